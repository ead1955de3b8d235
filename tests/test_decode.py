"""Decoding without NumPy: 8-bit RGB(A) PNGs decoded here against Pillow, everything
else handed to Pillow, damage refused, and the decode started ahead in a thread."""

from __future__ import annotations

import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

import reference
from kpalette import ImageReadError, KPaletteWarning, decode, load_image
from pngbytes import SIGNATURE, chunk, header, image_data


def _save(img: Image.Image, path, **params):
    img.save(path, **params)
    return path


def _pillow(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def _photo_like(rng, height, width, channels):
    """Smooth gradients with noise: Pillow's writer picks several filters for it."""
    ramp = np.add.outer(np.arange(height) * 2, np.arange(width) * 3)[..., None]
    shift = np.arange(channels) * 40
    return ((ramp + shift + rng.integers(0, 6, (height, width, channels))) % 256).astype(np.uint8)


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("level", [1, 9])
def test_rgb_and_rgba_pngs_decode_here_as_pillow_reads_them(tmp_path, rng, channels, level):
    array = _photo_like(rng, 37, 53, channels)
    path = _save(Image.fromarray(array), tmp_path / "a.png", compress_level=level)
    assert isinstance(decode.read(path, None), decode.DecodedPNG)
    loaded = load_image(path)
    assert loaded.flags.writeable and loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, array)
    np.testing.assert_array_equal(loaded, _pillow(path))


def test_interlaced_pngs_are_pillows(tmp_path):
    # Adam7 on one pixel: its first pass holds it, a scanline of filter 0 and RGB.
    path = tmp_path / "interlaced.png"
    path.write_bytes(
        SIGNATURE + header(1, 1, interlace=1) + image_data(b"\0\x10\x20\x30") + chunk(b"IEND", b"")
    )
    assert isinstance(decode.read(path, None), decode.OpenedImage)
    np.testing.assert_array_equal(load_image(path), [[[16, 32, 48]]])


def _filtered_rgb(rng, height, width, channels):
    """Scanlines with every filter number, and the samples they stand for."""
    rows = np.empty((height, width * channels + 1), dtype=np.uint8)
    rows[:, 0] = np.arange(height) % 5
    rows[:, 1:] = rng.integers(0, 256, (height, width * channels), dtype=np.uint8)
    samples = reference.png_unfilter_rows(rows.reshape(-1), height, width * channels, channels)
    return rows.tobytes(), samples.reshape(height, width, channels)


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("piece", [None, 1, 100])
def test_hand_made_pngs_in_many_chunks(tmp_path, rng, channels, piece):
    """The zlib stream split over IDAT chunks of 1 and 100 bytes, ancillary chunks
    around them, every filter: the same samples as the specification's filters and
    as Pillow."""
    raw, samples = _filtered_rgb(rng, 11, 9, channels)
    path = tmp_path / "made.png"
    path.write_bytes(
        SIGNATURE
        + header(9, 11, 8, 2 if channels == 3 else 6)
        + chunk(b"gAMA", b"\x00\x00\xb1\x8f")
        + image_data(raw, piece)
        + chunk(b"tEXt", b"Comment\x00hand made")
        + chunk(b"IEND", b"")
    )
    assert isinstance(decode.read(path, None), decode.DecodedPNG)
    np.testing.assert_array_equal(load_image(path), samples)
    np.testing.assert_array_equal(_pillow(path), samples)


def test_colour_key_exif_and_animation_are_pillows(tmp_path):
    array = np.zeros((10, 20, 3), dtype=np.uint8)
    array[:, :10] = 255
    # A tRNS colour key is left to Pillow's reading of it.
    keyed = _save(Image.fromarray(array), tmp_path / "key.png", transparency=(0, 0, 0))
    assert isinstance(decode.read(keyed, None), decode.OpenedImage)
    np.testing.assert_array_equal(load_image(keyed), array)
    # An eXIf chunk may rotate the image: Pillow applies it.
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = 6
    rotated = _save(img, tmp_path / "r.png", exif=exif)
    assert isinstance(decode.read(rotated, None), decode.OpenedImage)
    assert load_image(rotated).shape == (20, 10, 3)
    # An animated PNG: Pillow's first frame.
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    animated = tmp_path / "anim.png"
    frames[0].save(animated, save_all=True, append_images=frames[1:])
    assert isinstance(decode.read(animated, None), decode.OpenedImage)
    with pytest.warns(KPaletteWarning, match="2 frames"):
        np.testing.assert_array_equal(load_image(animated)[0, 0], [255, 0, 0])


@pytest.mark.parametrize("mode", ["L", "LA", "P", "I;16"])
def test_other_png_types_are_pillows(tmp_path, rng, mode):
    img = Image.fromarray(rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)).convert(mode)
    path = _save(img, tmp_path / "other.png")
    assert isinstance(decode.read(path, None), decode.OpenedImage)
    assert load_image(path).shape[:2] == (6, 7)


def _with_chunk_after_header(data: bytes, extra: bytes) -> bytes:
    return data[:33] + extra + data[33:]


def test_damaged_or_unusual_pngs_go_to_pillow(tmp_path, rng):
    """Anything odd found here is left to Pillow, which reads it or names the problem."""
    raw, samples = _filtered_rgb(rng, 6, 5, 3)
    good = SIGNATURE + header(5, 6) + image_data(raw) + chunk(b"IEND", b"")
    bad_header_crc = good[:29] + bytes([good[29] ^ 1]) + good[30:]
    bad_filter = raw[:0] + b"\x07" + raw[1:]  # the first row's filter: 7
    split_data = (
        SIGNATURE
        + header(5, 6)
        + image_data(raw, 10)[:22]  # the first IDAT (10 bytes of stream)
        + chunk(b"tEXt", b"a\x00b")
        + image_data(raw, 10)[22:]
        + chunk(b"IEND", b"")
    )
    cases = {
        "bad header CRC": bad_header_crc,
        "bad filter": SIGNATURE + header(5, 6) + image_data(bad_filter) + chunk(b"IEND", b""),
        "IDAT split": split_data,
        "no IEND": good[: -len(chunk(b"IEND", b""))],
        "short stream": SIGNATURE + header(5, 6) + image_data(raw[:-4]) + chunk(b"IEND", b""),
        "long stream": SIGNATURE
        + header(5, 6)
        + image_data(raw + b"\0" * 16)
        + chunk(b"IEND", b""),
        "not deflate": SIGNATURE + header(5, 6) + chunk(b"IDAT", b"nonsense") + chunk(b"IEND", b""),
        "16-bit": SIGNATURE + header(5, 6, 16) + image_data(raw) + chunk(b"IEND", b""),
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(data)
        assert decode._read_png(path, None) is None, name
        try:
            pillows = _pillow(path)
        except (OSError, SyntaxError, ValueError) as exc:
            with pytest.raises(ImageReadError, match="cannot open|cannot decode|not an image file"):
                load_image(path)
            assert str(exc)  # Pillow refused it, and so does load_image
        else:
            np.testing.assert_array_equal(load_image(path)[..., :3], pillows[..., :3])
    # The unusual but sound case is still read right: data after IEND is ignored.
    trailing = tmp_path / "trailing.png"
    trailing.write_bytes(good + b"junk after the end")
    assert isinstance(decode.read(trailing, None), decode.DecodedPNG)
    np.testing.assert_array_equal(load_image(trailing), samples)


def test_too_many_pixels_is_refused_before_decoding(tmp_path, rng):
    path = _save(Image.fromarray(_photo_like(rng, 12, 10, 3)), tmp_path / "a.png")
    assert decode._read_png(path, 100) is None
    with pytest.raises(ImageReadError, match="120 pixels, over the limit of 100"):
        decode.read(path, 100)


def test_reading_ahead_hands_its_result_to_load_image(tmp_path, rng):
    array = _photo_like(rng, 20, 30, 3)
    path = _save(Image.fromarray(array), tmp_path / "a.png")
    with decode.reading_ahead(path, 1000):
        decode._readings[(str(path), 1000)].join()
        path.unlink()  # only the decode made ahead can give the pixels now
        np.testing.assert_array_equal(load_image(path, max_pixels=1000), array)
        with pytest.raises(ImageReadError, match="no such file"):
            load_image(path, max_pixels=1000)  # taken once


def test_reading_ahead_is_taken_only_with_the_same_limit(tmp_path, rng):
    path = _save(Image.fromarray(_photo_like(rng, 20, 30, 3)), tmp_path / "a.png")
    with decode.reading_ahead(path, 1000):
        with pytest.raises(ImageReadError, match="over the limit of 100"):
            load_image(path, max_pixels=100)  # read again, with its own limit
        assert decode.take(path, 1000) is not None
    with decode.reading_ahead(path, 1000):
        pass
    assert decode.take(path, 1000) is None  # dropped at the end of the block


def test_reading_ahead_counts_the_colours_of_rgb_pngs_for_quantize(tmp_path, rng):
    from kpalette._scanlines import count_rgb

    from kpalette import io, quantize

    array = _photo_like(rng, 40, 50, 3)
    path = _save(Image.fromarray(array), tmp_path / "a.png")
    with decode.reading_ahead(path, None):
        decode._readings[(str(path), None)].join()  # decoded and counted
        image, counts = io._load_image_counted(path, None)
    np.testing.assert_array_equal(image, array)
    assert counts == count_rgb(array.reshape(-1, 3))
    with decode.reading_ahead(path, None):
        decode._readings[(str(path), None)].join()
        ahead = quantize(path, 6, max_pixels=None)
    after = quantize(array, 6)
    np.testing.assert_array_equal(ahead.palette, after.palette)
    np.testing.assert_array_equal(ahead.indices, after.indices)
    from kpalette import KSweep

    with decode.reading_ahead(path, None):
        reading = decode._readings[(str(path), None)]
        reading.join()
        sweep = KSweep(path, max_pixels=None)
    # KSweep fits the count made ahead (its buffer), not a count of its own.
    ahead_codes = np.frombuffer(reading.result.color_counts[0], np.int64)
    assert np.shares_memory(sweep.prepared.fitted(False)[0].codes, ahead_codes)
    rgba = _save(Image.fromarray(_photo_like(rng, 40, 50, 4)), tmp_path / "b.png")
    with decode.reading_ahead(rgba, None):
        decode._readings[(str(rgba), None)].join()
        assert io._load_image_counted(rgba, None)[1] is None  # only RGB is counted


def test_a_count_not_finished_when_taken_is_given_up(tmp_path, rng, monkeypatch):
    """take() does not wait for the count: it tells it to stop, and a result that
    comes after that is not kept (the caller has counted by then)."""
    import threading

    from kpalette import _scanlines

    counting, stops_seen = threading.Event(), []

    def slow_count(pixels, threads, stop):
        counting.set()
        while not stop[0]:
            threading.Event().wait(0.001)
        stops_seen.append(threads)
        return b"late", b"late"

    monkeypatch.setattr(_scanlines, "count_rgb", slow_count)
    path = _save(Image.fromarray(_photo_like(rng, 20, 30, 3)), tmp_path / "a.png")
    with decode.reading_ahead(path, None):
        reading = decode._readings[(str(path), None)]
        assert counting.wait(10)
        decoded = decode.take(path, None)
        reading.join(10)
    assert not reading.is_alive() and stops_seen == [1]
    assert decoded.color_counts is None


@pytest.mark.parametrize("kind", ["missing", "jpeg"])
def test_reading_ahead_errors_and_pillow_files(tmp_path, rng, kind):
    path = tmp_path / ("a.jpg" if kind == "jpeg" else "missing.png")
    if kind == "jpeg":
        _save(Image.fromarray(_photo_like(rng, 20, 30, 3)), path, quality=95)
        expected = load_image(path)
        with decode.reading_ahead(path, None):
            np.testing.assert_array_equal(load_image(path, max_pixels=None), expected)
    else:
        with decode.reading_ahead(path, None), pytest.raises(ImageReadError, match="no such file"):
            load_image(path, max_pixels=None)


def test_decoding_imports_no_numpy(tmp_path, rng):
    png = _save(Image.fromarray(_photo_like(rng, 20, 30, 4)), tmp_path / "a.png")
    code = (
        "import sys; from kpalette import decode; "
        f"d = decode.read({str(png)!r}, None); "
        "assert isinstance(d, decode.DecodedPNG) and len(d.pixels) == 20 * 30 * 4; "
        "assert 'numpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_command_line_decodes_while_numpy_loads(tmp_path, rng):
    """The read starts before NumPy is imported, and its pixels are the ones used."""
    png = _save(Image.fromarray(_photo_like(rng, 20, 30, 3)), tmp_path / "a.png")
    out = tmp_path / "out.png"
    code = (
        "import sys, threading; from kpalette import cli, decode; seen = []; "
        "real = decode.read; "
        "decode.read = lambda *a: seen.append(("
        "'numpy' in sys.modules, threading.current_thread().name)) or real(*a); "
        f"status = cli.main(['compress', {str(png)!r}, '-k', '4', '-o', {str(out)!r}]); "
        "assert status == 0 and seen == [(False, 'kpalette-read')], seen"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert out.exists()


@pytest.mark.parametrize(("piece", "feed"), [(50, 7), (64, 1000), (1 << 23, 3)])
def test_large_images_are_inflated_and_unfiltered_in_pieces(
    tmp_path, rng, monkeypatch, piece, feed
):
    """Small pieces stand in for a large image: zlib fed ``feed`` bytes at a time and
    returning at most ``piece`` (rows of 28 bytes split between outputs), the pieces
    unfiltered by a second thread; the same pixels, and damage still found."""
    monkeypatch.setattr(decode, "PIECE_BYTES", piece)
    monkeypatch.setattr(decode, "INPUT_BYTES", feed)
    pipelined = []
    real_pipelined = decode._pipelined
    monkeypatch.setattr(decode, "_pipelined", lambda *a: pipelined.append(1) or real_pipelined(*a))
    raw, samples = _filtered_rgb(rng, 23, 9, 3)
    path = tmp_path / "pieces.png"
    path.write_bytes(SIGNATURE + header(9, 23) + image_data(raw, 5) + chunk(b"IEND", b""))
    decoded = decode.read(path, None)
    assert isinstance(decoded, decode.DecodedPNG)
    np.testing.assert_array_equal(np.frombuffer(decoded.pixels, np.uint8), samples.reshape(-1))
    assert bool(pipelined) == (piece < len(raw))
    stride = 28
    damaged = {
        "a bad filter in row 20": raw[: 20 * stride] + b"\x05" + raw[20 * stride + 1 :],
        "a row short": raw[:-1],
        "a row long": raw + b"\x00" * stride,
    }
    for name, rows in damaged.items():
        path.write_bytes(SIGNATURE + header(9, 23) + image_data(rows) + chunk(b"IEND", b""))
        assert decode._read_png(path, None) is None, name
    stream = zlib.compress(raw)
    bad_checksum = stream[:-1] + bytes([stream[-1] ^ 1])
    path.write_bytes(SIGNATURE + header(9, 23) + chunk(b"IDAT", bad_checksum) + chunk(b"IEND", b""))
    assert decode._read_png(path, None) is None
