"""kpalette's commands (cli/commands.py): what a newcomer reaches for first: palette files
by extension, JPEG from RGBA, several inputs, pngquant's --skip-if-larger and --palette,
batch to JPEG, and a size target of at least two colours."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from kpalette.cli import main
from kpalette.data import sample_image_path


@pytest.fixture
def photo(tmp_path):
    """A small photo copied into tmp_path (so outputs land beside it)."""
    path = tmp_path / "photo.png"
    Image.open(sample_image_path()).crop((100, 80, 260, 200)).save(path)
    return path


def _run(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    "name, starts",
    [("x.gpl", b"GIMP Palette"), ("x.png", b"\x89PNG"), ("x.json", b"{"), ("x.css", b":root")],
)
def test_palette_writes_the_format_its_file_name_says(photo, tmp_path, capsys, name, starts):
    status, _, err = _run(["palette", photo, "-k", "4", "-o", tmp_path / name], capsys)
    assert status == 0, err
    assert (tmp_path / name).read_bytes().startswith(starts)


def test_palette_refuses_an_extension_it_cannot_tell_and_a_format_that_disagrees(
    photo, tmp_path, capsys
):
    status, _, err = _run(["palette", photo, "-o", tmp_path / "x.foo"], capsys)
    assert status == 2 and "cannot tell a palette format from" in err
    status, _, err = _run(["palette", photo, "-o", tmp_path / "x.gpl", "--format", "json"], capsys)
    assert status == 2 and "names a gpl file but --format is json" in err
    assert not list(tmp_path.glob("x.*"))


def test_an_opaque_rgba_image_writes_a_jpeg_measured_as_written(tmp_path, capsys):
    source = tmp_path / "rgba.png"
    Image.open(sample_image_path()).convert("RGBA").crop((0, 0, 200, 150)).save(source)
    status, out, err = _run(
        ["compress", source, "-o", tmp_path / "o.jpg", "-k", "8", "--json"], capsys
    )
    assert status == 0, err
    report = json.loads(out)
    assert report["lossy"] is True and report["output_bytes"] == (tmp_path / "o.jpg").stat().st_size
    assert 15 < report["psnr"] < 60


def test_a_failure_after_the_write_leaves_no_file(photo, tmp_path, capsys, monkeypatch):
    from kpalette.result import QuantizedImage

    def broken(self, **kwargs):
        raise ValueError("measuring failed")

    monkeypatch.setattr(QuantizedImage, "summary", broken)
    status, _, err = _run(["compress", photo, "-o", tmp_path / "o.jpg", "-k", "8"], capsys)
    assert status == 1 and "measuring failed" in err
    assert not (tmp_path / "o.jpg").exists()


def test_max_bytes_that_two_colours_do_not_meet_is_an_error(photo, tmp_path, capsys):
    status, _, err = _run(
        ["compress", photo, "-o", tmp_path / "o.png", "--max-bytes", "100"], capsys
    )
    assert status == 1
    assert "even 2 colours take" in err and "more than the 100 allowed" in err
    assert not (tmp_path / "o.png").exists()


def test_compress_takes_several_inputs_each_beside_itself(photo, tmp_path, capsys):
    other = tmp_path / "other.png"
    Image.open(sample_image_path()).crop((0, 0, 90, 60)).save(other)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    status, out, err = _run(["compress", photo, broken, other, "-k", "4"], capsys)
    assert status == 1  # one failed; the others were written
    assert (tmp_path / "photo-k4.png").is_file() and (tmp_path / "other-k4.png").is_file()
    assert err.count("kpalette: error: ") == 1 and "broken.png" in err
    assert out.count(" -> ") == 4  # the file and its size, for each of the two
    status, _, err = _run(["compress", photo, other, "-o", tmp_path / "x.png"], capsys)
    assert status == 2 and "-o names one file" in err


def test_skip_if_larger_writes_nothing_and_exits_98(tmp_path, capsys):
    source = tmp_path / "flat.png"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(source, optimize=True)
    status, _, err = _run(
        [
            "compress",
            source,
            "-o",
            tmp_path / "o.png",
            "-k",
            "2",
            "--skip-if-larger",
            "--truecolor",
        ],
        capsys,
    )
    assert status == 98 and "not written" in err and "--skip-if-larger" in err
    assert not (tmp_path / "o.png").exists()


def test_compress_maps_onto_a_given_palette(photo, tmp_path, capsys):
    palette = tmp_path / "p.hex"
    palette.write_text("#ff0000\n#00ff00\n#0000ff\n#ffffff\n")
    status, _, err = _run(
        ["compress", photo, "--palette", palette, "-o", tmp_path / "o.png"], capsys
    )
    assert status == 0, err
    colors = {c for _, c in Image.open(tmp_path / "o.png").convert("RGB").getcolors()}
    assert colors <= {(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)}
    status, _, err = _run(["compress", photo, "--palette", palette, "-k", "auto"], capsys)
    assert status == 2 and "--palette gives the colours" in err


def test_batch_writes_jpeg_measured_as_written(photo, tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    status, _, err = _run(
        ["batch", photo, "-o", tmp_path / "out", "--format", "jpg", "-k", "8", "--report", report],
        capsys,
    )
    assert status == 0, err
    (row,) = [json.loads(line) for line in report.read_text().splitlines()]
    written = Image.open(tmp_path / "out" / "photo-k8.jpg")
    assert (
        written.format == "JPEG"
        and row["output_bytes"] == (tmp_path / "out" / "photo-k8.jpg").stat().st_size
    )
    assert row["colors"] > 8  # JPEG's own loss: the file's colours, not the palette's
    status, _, err = _run(
        ["batch", photo, "-o", tmp_path / "o2", "--format", "jpg", "--max-bytes", "9k"], capsys
    )
    assert status == 2 and "lossy" in err
