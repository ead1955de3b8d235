"""The command line: summaries, JSON, palettes, and every kind of bad input."""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import data_image
from kpalette.cli import main
from kpalette.data import sample_image_path
from pngbytes import huge_header_png


@pytest.fixture
def photo(tmp_path):
    """A small photo copied into tmp_path (so outputs land beside it)."""
    path = tmp_path / "photo.png"
    Image.open(sample_image_path()).crop((100, 80, 260, 200)).save(path)
    return path


def _snapshot(folder: Path) -> dict:
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def _run(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_compress_writes_a_smaller_palette_png_beside_the_input(photo, capsys):
    status, out, err = _run(["compress", photo, "-k", "8"], capsys)
    assert status == 0 and err == ""
    output = photo.with_name("photo-k8.png")
    img = Image.open(output)
    assert img.mode == "P" and len(img.getcolors()) <= 8
    assert output.stat().st_size < photo.stat().st_size
    assert "photo.png -> " in out and "PSNR" in out and "bits/pixel" in out and "smaller" in out


def test_compress_json_report(photo, tmp_path, capsys):
    output = tmp_path / "o.png"
    status, out, _ = _run(["compress", photo, "-k", "6", "-o", output, "--json"], capsys)
    assert status == 0
    report = json.loads(out)  # exactly one JSON object
    for key in (
        "input",
        "output",
        "width",
        "height",
        "k",
        "colors",
        "input_bytes",
        "output_bytes",
        "mse",
        "psnr",
        "ssim",
        "seconds",
        "palette",
    ):
        assert key in report, key
    assert report["k"] == 6 and 1 <= report["colors"] <= 6
    assert report["output_bytes"] == output.stat().st_size
    assert (report["width"], report["height"]) == (160, 120)
    written = np.asarray(Image.open(output).convert("RGB"), dtype=np.float64)
    original = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float64)
    assert report["mse"] == pytest.approx(((written - original) ** 2).mean(), rel=1e-6)
    assert report["psnr"] == pytest.approx(10 * np.log10(255**2 / report["mse"]), rel=1e-4)
    assert 0 < report["ssim"] < 1
    assert all(len(code) == 7 and code.startswith("#") for code in report["palette"])


@pytest.mark.parametrize("colorspace", ["lab", "oklab"])
def test_colour_space_and_dither_options(photo, tmp_path, capsys, colorspace):
    output = tmp_path / "o.png"
    argv = ["compress", photo, "-k", "6", "-o", output, "--json", "--colorspace", colorspace]
    status, out, _ = _run([*argv, "--dither"], capsys)
    assert status == 0
    report = json.loads(out)
    assert report["color_space"] == colorspace and report["dither"] == 1.0
    assert report["delta_e"] > 0
    status, out, _ = _run([*argv, "--dither", "0.25", "--force"], capsys)
    assert json.loads(out)["dither"] == 0.25
    status, out, _ = _run(["compress", photo, "-k", "6", "-o", output, "--force"], capsys)
    assert "mean CIEDE2000" in out and "(oklab)" in out  # the eye's default
    status, out, _ = _run([*argv[:6], "--force", "--tune", "mse"], capsys)
    assert "mean CIEDE2000" in out and "(rgb)" in out


def test_choosing_k_on_the_command_line(photo, tmp_path, capsys):
    from kpalette import quantize

    status, out, _ = _run(["compress", photo, "-k", "auto", "--json"], capsys)
    report = json.loads(out)
    assert status == 0 and report["choice"]["method"] == "quality"
    # The default name says the k chosen.
    assert report["output"] == str(photo.with_name(f"photo-k{report['k']}.png"))
    assert photo.with_name(f"photo-k{report['k']}.png").exists()

    output = tmp_path / "psnr.png"
    status, out, _ = _run(
        ["compress", photo, "--target-psnr", "28", "-o", output, "--json"], capsys
    )
    report = json.loads(out)
    assert status == 0 and report["choice"]["method"] == "target_psnr"
    assert report["psnr"] >= 28 and quantize(photo, report["k"] - 1).psnr < 28

    output = tmp_path / "small.png"
    status, out, _ = _run(["compress", photo, "--max-bytes", "6k", "-o", output, "--json"], capsys)
    report = json.loads(out)
    assert status == 0 and report["choice"]["method"] == "max_bytes"
    assert output.stat().st_size == report["output_bytes"] <= 6000
    assert len(quantize(photo, report["k"] + 1).encode("PNG")) > 6000


def test_unreachable_psnr_is_an_error_and_writes_nothing(photo, capsys):
    before = _snapshot(photo.parent)
    status, out, err = _run(["compress", photo, "--target-psnr", "150"], capsys)
    assert status == 1 and out == "" and _snapshot(photo.parent) == before
    assert err.startswith("kpalette: error: PSNR 150 dB is not reached with 256 colours, the most")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("200000", 200000), ("200k", 200000), ("200kB", 200000), ("1.5M", 1500000), ("64KiB", 65536)],
)
def test_sizes(text, expected):
    from kpalette.cli import parse_size

    assert parse_size(text) == expected


@pytest.mark.parametrize("ext", ["gif", "webp", "jpg", "tif"])
def test_compress_other_formats(photo, tmp_path, capsys, ext):
    output = tmp_path / f"o.{ext}"
    status, out, _ = _run(["compress", photo, "-k", "4", "-o", output, "--json"], capsys)
    assert status == 0 and output.stat().st_size == json.loads(out)["output_bytes"]


def test_truecolor_png_and_more_than_256_colours(photo, tmp_path, capsys):
    output = tmp_path / "t.png"
    status, _, _ = _run(["compress", photo, "-k", "300", "--truecolor", "-o", output], capsys)
    assert status == 0
    assert Image.open(output).mode == "RGB"


def test_same_seed_same_bytes(photo, tmp_path, capsys):
    for name in ("a.png", "b.png"):
        assert (
            _run(["compress", photo, "-k", "5", "--seed", "3", "-o", tmp_path / name], capsys)[0]
            == 0
        )
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize("fmt", ["hex", "json", "gpl", "css"])
def test_palette_formats(photo, capsys, fmt):
    status, out, _ = _run(["palette", photo, "-k", "5", "--format", fmt], capsys)
    assert status == 0
    if fmt == "json":
        colours = json.loads(out)["colors"]
        assert len(colours) == 5
        shares = [c["share"] for c in colours]
        assert shares == sorted(shares, reverse=True) and sum(shares) == pytest.approx(1, abs=1e-5)
    elif fmt == "gpl":
        assert out.startswith("GIMP Palette\n") and len(out.splitlines()) == 4 + 5
    elif fmt == "css":
        assert out.count("--photo-") == 5
    else:
        assert len(out.splitlines()) == 5 and out.splitlines()[0].startswith("#")


def test_palette_without_k_gives_eight_colours(photo, capsys):
    status, out, _ = _run(["palette", photo], capsys)
    assert status == 0 and len(out.splitlines()) == 8


def test_palette_swatch_png(photo, tmp_path, capsys):
    output = tmp_path / "swatch.png"
    assert _run(["palette", photo, "-k", "5", "--format", "png", "-o", output], capsys)[0] == 0
    assert Image.open(output).size == (5 * 48, 48)


def test_demo_compresses_the_bundled_photo(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(["demo", "--json"], capsys)
    assert status == 0
    report = json.loads(out)
    assert (
        report["input"].endswith("coffee.png") and Path(report["output"]).name == "coffee-k16.png"
    )
    assert (tmp_path / "coffee-k16.png").stat().st_size < report["input_bytes"] / 4


# --------------------------------------------------------------------------- bad input
def _truncated(kind):
    def make(folder):
        noise = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        buffer = _io.BytesIO()
        Image.fromarray(noise).save(buffer, format=kind)
        path = folder / f"cut.{kind.lower()}"
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        return [path]

    return make


def _file(name, data):
    def make(folder):
        (folder / name).write_bytes(data)
        return [folder / name]

    return make


BAD_INPUTS = {
    "missing file": (lambda f: [f / "nope.jpg"], 1, "no such file"),
    "directory": (lambda f: [(f / "d").mkdir() or f / "d"], 1, "is a directory"),
    "text named jpg": (_file("notes.jpg", b"just text\n"), 1, "not an image"),
    "truncated jpeg": (_truncated("JPEG"), 1, "truncated"),
    "truncated png": (_truncated("PNG"), 1, "truncated"),
    "zero bytes": (_file("empty.png", b""), 1, "empty file"),
    "bomb": (_file("bomb.png", huge_header_png(20000, 20000)), 1, "image too large"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_files(tmp_path, capsys, case):
    make, status, message = BAD_INPUTS[case]
    (path,) = make(tmp_path)
    before = _snapshot(tmp_path)
    code, out, err = _run(["compress", path, "-o", tmp_path / "out.png"], capsys)
    assert code == status
    assert err.startswith("kpalette: error: ") and err.count("\n") == 1 and message in err
    assert out == ""
    assert _snapshot(tmp_path) == before


def _with_photo(folder, extra):
    photo = folder / "in.png"
    Image.open(sample_image_path()).crop((0, 0, 40, 30)).save(photo)
    return ["compress", photo, *extra(folder, photo)]


BAD_ARGUMENTS = {
    "k zero": (lambda f, p: ["-k", "0"], 2, "-k must be a whole number >= 1, got 0"),
    "k negative": (lambda f, p: ["-k", "-3"], 2, "-k must be a whole number >= 1, got -3"),
    "k over 256 png": (lambda f, p: ["-k", "257"], 2, "-k 257 is more than a .png palette"),
    "k over 256 gif": (lambda f, p: ["-k", "300", "-o", f / "o.gif"], 2, "palette image holds"),
    "missing folder": (lambda f, p: ["-o", f / "no" / "o.png"], 1, "output folder does not exist"),
    "output is input": (lambda f, p: ["-o", p, "--force"], 1, "is the input file"),
    "output exists": (lambda f, p: ["-o", f / "keep.png"], 1, "output exists"),
    "unknown extension": (lambda f, p: ["-o", f / "o.xyz"], 1, "unknown output extension"),
    "unknown option": (lambda f, p: ["--colour", "3"], 2, "unrecognized arguments"),
    "k and a target": (
        lambda f, p: ["-k", "5", "--max-bytes", "9k"],
        2,
        "got -k 5 and --max-bytes",
    ),
    "two targets": (
        lambda f, p: ["--target-psnr", "30", "--max-bytes", "9k"],
        2,
        "choose one of -k N, -k auto, --target-psnr, --max-bytes and --quality; got --target-psnr",
    ),
    "bad size": (lambda f, p: ["--max-bytes", "12x"], 2, "such as 200000, 200k, 1.5M or 64KiB"),
    "zero size": (lambda f, p: ["--max-bytes", "0"], 2, "--max-bytes must be a whole number >= 1"),
    "bad psnr": (lambda f, p: ["--target-psnr", "-3"], 2, "--target-psnr must be a positive"),
    "endless psnr": (lambda f, p: ["--target-psnr", "inf"], 2, "a positive number of dB, got inf"),
    "psnr word": (lambda f, p: ["--target-psnr", "high"], 2, "--target-psnr must be a number"),
    "seed negative": (lambda f, p: ["--seed", "-1"], 2, "--seed must be a whole number >= 0"),
    "n-init zero": (lambda f, p: ["--n-init", "0"], 2, "--n-init must be 'auto' or a whole"),
    "max-iter zero": (lambda f, p: ["--max-iter", "0"], 2, "--max-iter must be a whole number >="),
    "max-pixels zero": (lambda f, p: ["--max-pixels", "0"], 2, "--max-pixels must be a whole"),
    "size out of reach": (lambda f, p: ["--max-bytes", "20"], 1, "even 2 colours take"),
    "k word": (lambda f, p: ["-k", "many"], 2, "a whole number of colours or 'auto'"),
    "dither too many colours": (
        lambda f, p: ["-k", "1100", "--truecolor", "--dither", "-o", f / "o.webp"],
        2,
        "dithering takes at most 1024 colours, got -k 1100",
    ),
    "dither over 1": (lambda f, p: ["--dither", "1.5"], 2, "--dither must be a strength in 0..1"),
    "dither word": (lambda f, p: ["--dither", "lots"], 2, "in 0..1, got 'lots'"),
    "unknown colour space": (lambda f, p: ["--colorspace", "hsv"], 2, "invalid choice: 'hsv'"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments(tmp_path, capsys, case):
    extra, status, message = BAD_ARGUMENTS[case]
    (tmp_path / "keep.png").write_bytes(b"an existing file that must survive")
    argv = _with_photo(tmp_path, extra)
    before = _snapshot(tmp_path)
    code, out, err = _run(argv, capsys)
    assert code == status
    assert err.startswith("kpalette: error: ") and err.count("\n") == 1 and message in err, err
    assert out == ""
    assert _snapshot(tmp_path) == before


def test_existing_output_is_replaced_with_force(photo, tmp_path, capsys):
    output = tmp_path / "o.png"
    output.write_bytes(b"old")
    assert _run(["compress", photo, "-k", "3", "-o", output, "--force"], capsys)[0] == 0
    assert Image.open(output).mode == "P"


def test_errors_from_a_real_process_have_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kpalette.cli", "compress", str(tmp_path / "none.jpg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == f"kpalette: error: no such file: {tmp_path / 'none.jpg'}\n"
    usage = subprocess.run(
        [sys.executable, "-m", "kpalette.cli"], capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2 and usage.stderr.startswith("kpalette: error: ")
    assert "Traceback" not in result.stderr + usage.stderr


def test_warnings_are_one_line_each_and_the_summary_reads_right(tmp_path):
    # Pages of a TIFF (an animation's frames would all be kept: test_animation.py).
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    animated = tmp_path / "anim.tif"
    frames[0].save(animated, save_all=True, append_images=frames[1:])
    result = subprocess.run(
        [sys.executable, "-m", "kpalette.cli", "compress", str(animated), "-k", "4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"kpalette: warning: {animated} has 2 frames; only the first is read",
        "kpalette: warning: the input has 1 distinct colour, fewer than k=4;"
        " the palette is those colours exactly",
    ]
    summary = result.stdout
    assert "  1 colour (k=4), 8x8" in summary
    # the size ratio is said the way round that makes it at least 1
    in_bytes, out_bytes = animated.stat().st_size, (tmp_path / "anim-k4.png").stat().st_size
    word = "smaller" if out_bytes <= in_bytes else "larger"
    ratio = max(in_bytes, out_bytes) / min(in_bytes, out_bytes)
    assert f"({ratio:.2f}x {word})" in summary


def test_explore_writes_one_page_and_keeps_existing_files(photo, capsys):
    status, out, err = _run(["explore", photo], capsys)
    page = photo.with_name("photo-explore.html")
    assert status == 0 and err == "" and page.exists()
    assert "suggested k=" in out and "MB" in out
    text = page.read_text(encoding="utf-8")
    assert "<table id='k-table'>" in text and "cloud-cluster" in text
    before = _snapshot(photo.parent)
    status, out, err = _run(["explore", photo], capsys)
    assert status == 1 and "output exists" in err and _snapshot(photo.parent) == before
    assert _run(["explore", photo, "--force", "--colorspace", "oklab"], capsys)[0] == 0
    assert "OKLAB" in page.read_text(encoding="utf-8")


def test_compress_a_jpeg_photo(tmp_path, capsys):
    output = tmp_path / "rocket-k16.png"
    status, out, _ = _run(["compress", data_image("rocket.jpg"), "-o", output, "--json"], capsys)
    report = json.loads(out)
    assert status == 0 and report["colors"] == 16 and report["psnr"] > 25


def test_gif_of_a_translucent_image_reports_the_file_written(tmp_path, capsys):
    from kpalette.metrics import mean_squared_error

    rgb = np.asarray(Image.open(sample_image_path()).crop((100, 80, 260, 200)))
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1))
    source = tmp_path / "translucent.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(source)
    for extra in ([], ["--target-psnr", "12"], ["--max-bytes", "2000"]):
        output = tmp_path / "out.gif"
        status, out, err = _run(
            ["compress", source, *extra, "-o", output, "--json", "--force"], capsys
        )
        assert status == 0 and err == ""
        written = np.asarray(Image.open(output).convert("RGBA"))
        assert set(np.unique(written[..., 3])) == {0, 255}
        original = np.asarray(Image.open(source))
        assert json.loads(out)["mse"] == pytest.approx(
            mean_squared_error(original, written), rel=1e-5
        )


def test_version_is_the_packages(capsys):
    import kpalette

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"kpalette {kpalette.__version__}"


def test_a_lossy_output_is_measured_as_written(photo, tmp_path, capsys):
    from kpalette import load_image
    from kpalette.metrics import mean_squared_error

    output = tmp_path / "lossy.jpg"
    status, out, _ = _run(["compress", photo, "-k", "8", "-o", output, "--json"], capsys)
    report = json.loads(out)
    written = load_image(output)
    assert status == 0 and report["lossy"] is True and report["k"] == 8
    assert report["colors"] == len(np.unique(written.reshape(-1, 3), axis=0)) > 8
    assert report["mse"] == pytest.approx(mean_squared_error(load_image(photo), written), abs=1e-6)


@pytest.mark.parametrize("option", [["--target-psnr", "30"], ["--max-bytes", "50k"]])
def test_targets_are_refused_for_lossy_outputs(photo, tmp_path, capsys, option):
    status, out, err = _run(["compress", photo, *option, "-o", tmp_path / "x.jpg"], capsys)
    assert status == 2 and out == "" and "lossy JPEG output" in err
    assert not (tmp_path / "x.jpg").exists()


def test_a_tiny_file_declaring_a_huge_image_is_refused_unless_asked(tmp_path, capsys):
    from pngbytes import huge_header_png

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(huge_header_png(9459, 9459))
    status, _, err = _run(["compress", bomb, "-o", tmp_path / "o.png"], capsys)
    assert status == 1 and "image out of proportion" in err and err.count("\n") == 1
    status, _, err = _run(
        ["compress", bomb, "-o", tmp_path / "o.png", "--max-pixels", "1000"], capsys
    )
    assert status == 1 and "over the limit of 1000" in err
    # Raising the pixel limit leaves the other half of the guard on; only its own
    # option lifts it (the file then fails as the damaged file it is).
    status, _, err = _run(
        ["compress", bomb, "-o", tmp_path / "o.png", "--max-pixels", "200000000"], capsys
    )
    assert status == 1 and "out of proportion" in err and "--max-expansion" in err
    status, _, err = _run(
        ["compress", bomb, "-o", tmp_path / "o.png", "--max-expansion", "1e9"], capsys
    )
    assert status == 1 and "out of proportion" not in err and err.count("\n") == 1
    status, _, err = _run(
        ["compress", bomb, "-o", tmp_path / "o.png", "--max-expansion", "0"], capsys
    )
    assert status == 2 and "--max-expansion must be a number > 0" in err and "None" not in err
    assert not (tmp_path / "o.png").exists()


def test_library_noise_is_held_back_and_a_failing_run_prints_one_line(monkeypatch, capfd):
    import os
    import warnings

    from kpalette import cli
    from kpalette.exceptions import ImageReadError

    def noisy(args):
        os.write(2, b"ZIPDecode: Decoding error at scanline 0\n")  # as libtiff does
        warnings.warn("Truncated File Read", UserWarning, stacklevel=1)
        if args.input == ["fail.tif"]:
            raise ImageReadError("cannot decode x.tif: broken data stream")
        return 0

    monkeypatch.setattr(cli, "_execute", noisy)
    assert cli.main(["compress", "fail.tif"]) == 1
    err = capfd.readouterr().err
    assert err == "kpalette: error: cannot decode x.tif: broken data stream\n"
    assert cli.main(["compress", "succeed.tif"]) == 0
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "kpalette: warning: Truncated File Read",
        "kpalette: warning: ZIPDecode: Decoding error at scanline 0",
    ]


def test_the_status_line_is_for_terminals_and_quiet_silences_it(
    photo, tmp_path, capsys, monkeypatch
):
    from kpalette import cli

    shown = []

    @contextlib.contextmanager
    def recording(*, enabled):
        shown.append(enabled)
        yield

    monkeypatch.setattr(cli, "_status_line", recording)
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    _run(["compress", photo, "-o", tmp_path / "a.png"], capsys)
    _run(["compress", photo, "-o", tmp_path / "b.png", "--quiet"], capsys)
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: False)
    _run(["compress", photo, "-o", tmp_path / "c.png"], capsys)
    assert shown == [True, False, False]


def test_the_library_says_what_it_is_doing(small_photo):
    from kpalette import choose_k, progress

    seen = []
    with progress.reporting(seen.append):
        choose_k(small_photo, target_psnr=25)
    assert seen[0] == "counting colours" and any(m.startswith("fitting k=") for m in seen)
    progress.status("nobody listens")  # no reporter: nothing happens


def test_an_output_format_too_small_for_the_image_is_one_line(tmp_path, capsys):
    tall = tmp_path / "tall.png"
    Image.fromarray(np.zeros((70_000, 3, 3), dtype=np.uint8)).save(tall)
    for name in ("o.gif", "o.webp", "o.jpg"):
        status, _, err = _run(["compress", tall, "-o", tmp_path / name, "-k", "2"], capsys)
        assert status == 1 and err.count("\n") == 1 and "holds at most" in err, err
        assert "internal error" not in err and not (tmp_path / name).exists()


def test_quality_writes_the_fewest_colours_reaching_it(photo, tmp_path, capsys):
    from kpalette import load_image, ssimulacra2

    output = tmp_path / "q.png"
    status, out, err = _run(
        ["compress", photo, "--quality", "50-65", "-o", output, "--json"], capsys
    )
    assert status == 0, err
    report = json.loads(out)
    assert (
        report["choice"]["method"] == "quality" and "SSIMULACRA2 65" in report["choice"]["reason"]
    )
    assert ssimulacra2(load_image(photo), load_image(output)) >= 65


def test_quality_under_the_minimum_exits_99_and_writes_nothing(photo, tmp_path, capsys):
    output = tmp_path / "never.png"
    status, out, err = _run(["compress", photo, "--quality", "99.5-100", "-o", output], capsys)
    assert status == 99 and not output.exists() and out == ""
    assert (
        err.startswith("kpalette: error: SSIMULACRA2 99.5 is not reached") and err.count("\n") == 1
    )
    status, _, err = _run(["compress", photo, "--quality", "80-60", "-o", output], capsys)
    assert status == 2 and "--quality must be MIN-MAX" in err
    status, _, err = _run(["compress", photo, "--quality", "70", "-o", tmp_path / "x.jpg"], capsys)
    assert status == 2 and "--quality cannot be met through a lossy JPEG" in err


def test_long_running_commands_leave_the_process_as_they_found_it(monkeypatch, tmp_path):
    """serve and batch keep the collector on, file descriptor 2 where it was, and
    Python's sys.stderr; only the short commands pause the collector."""
    import gc
    import os

    from kpalette import cli

    seen = {}
    before = os.fstat(2)

    def record(args):
        after = os.fstat(2)
        seen[args.command] = (
            gc.isenabled(),
            (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino),
        )
        return 0

    monkeypatch.setattr(cli, "_execute", record)
    assert gc.isenabled()
    cli.main(["serve"])
    cli.main(["batch", str(tmp_path), "-o", str(tmp_path / "out")])
    cli.main(["compress", "x.png"])
    assert seen["serve"] == (True, True) and seen["batch"] == (True, True)
    assert seen["compress"][0] is False  # the collector paused for a short command
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port must be in 0..65535, got 70000"),
        (["--port", "-1"], "--port must be in 0..65535, got -1"),
        (["--max-pixels", "0"], "--max-pixels must be a whole number >= 1, got 0"),
        (["--max-upload", "0"], "--max-upload must be a size such as"),
    ],
)
def test_serve_refuses_bad_settings_before_it_starts(capsys, argv, message):
    code, out, err = _run(["serve", *argv], capsys)
    assert code == 2 and out == ""
    assert err.startswith("kpalette: error: ") and err.count("\n") == 1 and message in err, err


def test_the_parser_reads_numbers_and_options_check_their_ranges():
    # One place checks each range: the parser only reads the text, so the library's
    # Options (and with it the Python API and the web page) refuses the same values.
    from kpalette.cli import build_parser

    args = build_parser().parse_args(
        ["compress", "x.png", "-k", "0", "--seed", "-1", "--dither", "2", "--max-iter", "0"]
    )
    assert (args.k, args.seed, args.dither, args.max_iter) == (0, -1, 2.0, 0)
