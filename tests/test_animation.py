"""kpalette.animation and io.frames: every frame kept, one palette, unchanged pixels
not stored again; GIF, APNG and WebP decoded back by Pillow (and gifsicle)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import data_image
from kpalette import ImageReadError, quantize_animation, read_frames
from kpalette.animation import ANIMATION_DITHER, plan_frames
from kpalette.cli import main
from kpalette.gif import CLEAR, FrameRect, encode_gif
from kpalette.io import frame_count


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(data_image("chelsea-crop.png")).convert("RGB"))


def save_animation(path, frames, durations, loop=0, **extra):
    """Frames written losslessly (APNG or WebP) or as Pillow's GIF."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=list(durations), loop=loop, **extra
    )
    return path


def moving_square(photo, n=8, colour=(255, 0, 0)):
    """A still photo with a square crossing it: most pixels never change."""
    frames = []
    for i in range(n):
        frame = photo.copy()
        frame[10:26, 4 + 8 * i : 20 + 8 * i] = colour
        frames.append(frame)
    return np.stack(frames)


def pan(photo, n=6):
    """Every pixel changes: a window moving over the photo."""
    width = photo.shape[1] - 5 * n
    return np.stack([photo[:, 5 * i : 5 * i + width] for i in range(n)])


def frames_shown(data: bytes) -> list[np.ndarray]:
    with Image.open(io.BytesIO(data)) as img:
        out = []
        for number in range(img.n_frames):
            img.seek(number)
            out.append(np.asarray(img.convert("RGBA")))
        return out


def replay(rects, shape, transparent, table):
    """What a viewer draws from planned rectangles (an independent model of the
    canvas): draw over, then keep or clear each frame's rectangle."""
    canvas = np.full(shape, transparent, dtype=np.int64)
    shown = []
    for rect in rects:
        h, w = rect.indices.shape
        view = canvas[rect.y : rect.y + h, rect.x : rect.x + w]
        drawn = rect.indices != transparent
        view[drawn] = rect.indices[drawn]
        shown.append(table[canvas])
        if rect.dispose == CLEAR:
            view[...] = transparent
    return shown


@pytest.mark.parametrize("suffix", [".png", ".webp", ".gif"])
def test_frames_are_read_as_shown_with_durations_and_plays(tmp_path, photo, suffix):
    frames = moving_square(photo, 5)
    path = save_animation(
        tmp_path / f"a{suffix}",
        frames,
        [40, 50, 60, 70, 80],
        loop=3,
        **({"lossless": True} if suffix == ".webp" else {}),
    )
    read = read_frames(path)
    assert read.frames.shape == frames.shape and frame_count(path) == 5
    assert read.durations == (40, 50, 60, 70, 80)
    assert read.plays == (4 if suffix == ".gif" else 3)  # a GIF's loop count is repeats
    if suffix != ".gif":  # Pillow's GIF writer quantizes each frame itself
        assert np.array_equal(read.frames, frames)


def test_frame_limits_are_one_line_errors(tmp_path, photo):
    path = save_animation(tmp_path / "a.png", moving_square(photo, 5), [50] * 5)
    with pytest.raises(ImageReadError, match="has 5 frames, more than the 4 read at most"):
        read_frames(path, max_frames=4)
    pixels = photo.shape[0] * photo.shape[1]
    with pytest.raises(ImageReadError, match="animation too large: .* 5 frames of"):
        read_frames(path, max_pixels=pixels)  # each frame fits, the five do not


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_every_frame_decodes_to_the_result_with_one_palette(photo, fmt):
    frames = moving_square(photo)
    result = quantize_animation(frames, 32)
    data = result.encode(fmt)
    shown = frames_shown(data)
    assert len(shown) == len(frames)
    expected = result.to_array()
    for number, frame in enumerate(shown):
        assert np.array_equal(frame[..., :3], expected[number, ..., :3]), number
    assert result.n_colors <= 32
    with Image.open(io.BytesIO(data)) as img:
        assert img.info.get("loop") == 0
        if fmt == "PNG":  # one PLTE: every frame opens in mode P with the same palette
            palettes = set()
            for number in range(img.n_frames):
                img.seek(number)
                assert img.mode == "P"
                palettes.add(bytes(img.getpalette()))
            assert len(palettes) == 1
    if fmt == "GIF":  # one global colour table: no image descriptor has a local one
        assert b"\x2c" in data and all(data[i + 9] & 0x80 == 0 for i in _descriptors(data))


def _descriptors(data: bytes) -> list[int]:
    """Offsets of a GIF's image descriptors (walking its blocks)."""
    position = 13 + 3 * (2 << (data[10] & 7))
    found = []
    while data[position] != 0x3B:
        if data[position] == 0x21:
            position += 2
            while data[position]:
                position += data[position] + 1
            position += 1
        else:
            found.append(position)
            position += 10 + 1
            while data[position]:
                position += data[position] + 1
            position += 1
    return found


def test_gifsicle_reads_the_gif(tmp_path, photo):
    """An independent decoder: gifsicle expands every frame as Pillow does."""
    if shutil.which("gifsicle") is None:
        pytest.skip("needs gifsicle (Debian's gifsicle; .ci/run installs it)")
    result = quantize_animation(moving_square(photo), 16)
    path = tmp_path / "a.gif"
    result.save(path)
    flat = tmp_path / "flat.gif"
    subprocess.run(["gifsicle", "--unoptimize", str(path), "-o", str(flat)], check=True)
    expected = result.to_array()
    for number, frame in enumerate(frames_shown(flat.read_bytes())):
        assert np.array_equal(frame[..., :3], expected[number, ..., :3])


def test_a_colour_only_in_later_frames_gets_its_entry(photo):
    """A blue square in the last two of 10 frames (0.4% of the pixels): it has an
    entry, near its colour, at k = 8."""
    frames = np.repeat(photo[None], 10, axis=0)
    frames[8:, 20:30, 20:30] = (30, 60, 250)
    result = quantize_animation(frames, 8)
    nearest = np.abs(result.palette.astype(int) - (30, 60, 250)).sum(1).min()
    assert nearest < 40
    single = quantize_animation(frames[:1], 8)
    assert np.abs(single.palette.astype(int) - (30, 60, 250)).sum(1).min() > 100


@pytest.mark.parametrize("dither", [ANIMATION_DITHER, 0.0])
def test_still_pixels_keep_their_index_and_are_not_stored_again(photo, dither):
    frames = moving_square(photo)
    result = quantize_animation(frames, 32, dither=dither)
    for number in range(1, len(frames)):
        same = (frames[number] == frames[number - 1]).all(-1)
        assert np.array_equal(result.indices[number][same], result.indices[number - 1][same])
    whole = _whole_frames_gif(result)
    assert len(result.encode("GIF")) <= 0.5 * len(whole)


def _whole_frames_gif(result) -> bytes:
    """The same frames written whole, as a writer without frame differences does."""
    table = np.zeros((result.n_colors + 1, 3), dtype=np.uint8)
    table[: result.n_colors] = result.palette
    height, width = result.shape
    rects = [
        FrameRect(0, 0, frame, d) for frame, d in zip(result.indices, result.durations, strict=True)
    ]
    return encode_gif(table, rects, width=width, height=height)


def test_plan_frames_replays_to_the_frames(rng):
    """Random index animations with transparent pixels appearing and disappearing:
    replaying the planned rectangles gives every frame; an unchanged frame merges
    into the one before."""
    table = np.vstack([rng.integers(0, 256, size=(6, 3)), [[-1, -1, -1]]])
    for _ in range(20):
        frames = rng.integers(0, 6, size=(7, 9, 11))
        frames[rng.random(frames.shape) < 0.2] = 6
        frames[3] = frames[2]  # an unchanged frame
        frames[4:, :4] = frames[3, :4]  # a still part
        rects = plan_frames(frames, [10] * 7, transparent=6)
        assert len(rects) == 6 and rects[2].duration == 20
        shown = replay(rects, frames.shape[1:], 6, table)
        expected = [table[f] for i, f in enumerate(frames) if i != 3]
        for got, want in zip(shown, expected, strict=True):
            assert np.array_equal(got, want)


@pytest.mark.parametrize("fmt", ["GIF", "PNG"])
def test_transparency_that_comes_and_goes(photo, fmt):
    """RGBA frames where pixels become transparent and opaque again: decoded back
    exactly (a frame before a pixel turns transparent clears its rectangle)."""
    frames = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    frames = np.repeat(frames[None], 4, axis=0)
    frames[1, 5:15, 5:15, 3] = 0
    frames[2, 20:30, 10:40, 3] = 0
    result = quantize_animation(frames, 16)
    shown = frames_shown(result.encode(fmt))
    expected = result.to_array()
    for number, frame in enumerate(shown):
        visible = expected[number, ..., 3] > 0
        assert np.array_equal(frame[..., 3] > 0, visible), number
        assert np.array_equal(frame[visible, :3], expected[number][visible, :3])


def test_cli_compress_keeps_every_frame_and_its_timing(tmp_path, photo, capsys):
    source = save_animation(tmp_path / "a.png", pan(photo), [30, 60, 90, 30, 60, 90], loop=2)
    for suffix in (".gif", ".png", ".webp"):
        out = tmp_path / f"out{suffix}"
        assert main(["compress", str(source), "-k", "64", "-o", str(out), "--quiet"]) == 0
        read = read_frames(out)
        assert read.frames.shape[0] == 6
        assert read.durations == (30, 60, 90, 30, 60, 90)
        assert read.plays == 2
        assert len(np.unique(read.frames.reshape(-1, 3), axis=0)) <= 64
    said = capsys.readouterr().out
    assert "6 frames of" in said and "one palette of 64 colours" in said
    # By default beside the input, in its format; the input is never overwritten.
    assert main(["compress", str(source), "-k", "16", "--quiet"]) == 0
    assert (tmp_path / "a-k16.png").is_file() and read_frames(tmp_path / "a-k16.png").plays == 2


def test_cli_palette_and_refusals(tmp_path, photo, capsys):
    frames = moving_square(photo, 6, colour=(150, 110, 80))
    frames[4:, 30:40, 20:30] = (30, 60, 250)
    source = save_animation(tmp_path / "a.png", frames, [50] * 6)
    assert main(["palette", str(source), "-k", "8"]) == 0
    listed = capsys.readouterr().out.split()
    codes = [np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) for c in listed if c[0] == "#"]
    assert min(np.abs(c - (30, 60, 250)).sum() for c in codes) < 40
    assert main(["compress", str(source), "--quality", "80", "-o", str(tmp_path / "q.gif")]) == 2
    assert "is an animation: give -k N or --palette FILE" in capsys.readouterr().err
    # A still output format takes the first frame, and says so.
    assert main(["compress", str(source), "-o", str(tmp_path / "first.jpg"), "--quiet"]) == 0
    assert "has 6 frames; only the first is read" in capsys.readouterr().err


def test_a_truncated_animation_keeps_the_frames_before_the_cut(tmp_path, photo):
    """As a browser shows a cut download: the frames that decode, and one warning."""
    import warnings

    from kpalette import KPaletteWarning

    path = save_animation(tmp_path / "a.gif", moving_square(photo, 6), [50] * 6)
    data = path.read_bytes()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = read_frames(cut)
    assert 1 <= len(read.frames) < 6
    said = [str(w.message) for w in caught if issubclass(w.category, KPaletteWarning)]
    assert len(said) == 1 and f"the {len(read.frames)} before it are kept" in said[0]
    with pytest.raises(ImageReadError, match="cannot"):
        read_frames(data[:40])


def test_batch_keeps_every_frame_of_animations_and_still_images_as_before(tmp_path, photo):
    from kpalette.cli import main as cli

    inputs = tmp_path / "in"
    inputs.mkdir()
    save_animation(inputs / "anim.png", moving_square(photo), [40] * 8)
    Image.fromarray(photo).save(inputs / "still.png")
    out = tmp_path / "out"
    report = tmp_path / "report.csv"
    assert (
        cli(
            [
                "batch",
                str(inputs),
                "-o",
                str(out),
                "-k",
                "32",
                "--format",
                "gif",
                "--report",
                str(report),
                "--quiet",
            ]
        )
        == 0
    )
    read = read_frames(out / "anim-k32.gif")
    assert len(read.frames) == 8 and read.durations == (40,) * 8
    assert frame_count(out / "still-k32.gif") == 1
    import csv

    rows = {Path(r["input"]).name: r for r in csv.DictReader(report.open())}
    assert rows["anim.png"]["status"] == "ok" and float(rows["anim.png"]["mse"]) > 0
    # The same frames and bytes as compress gives.
    single = tmp_path / "single.gif"
    assert (
        cli(["compress", str(inputs / "anim.png"), "-k", "32", "-o", str(single), "--quiet"]) == 0
    )
    assert single.read_bytes() == (out / "anim-k32.gif").read_bytes()


def test_the_error_is_over_every_frame_s_visible_pixels(rng):
    frames = rng.integers(0, 256, size=(3, 20, 30, 4), dtype=np.uint8)
    frames[..., 3] = np.where(rng.random((3, 20, 30)) < 0.3, 0, 255)
    result = quantize_animation(frames, 8)
    shown = result.to_array()[..., :3].astype(np.float64)
    visible = frames[..., 3] > 0
    expected = ((shown - frames[..., :3]) ** 2)[visible].mean()
    assert result.mse == pytest.approx(expected)
    assert result.psnr == pytest.approx(10 * np.log10(255**2 / expected))
