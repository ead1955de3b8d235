"""Loading every listed mode and format; saving palette and full-colour images."""

from __future__ import annotations

import io as _io
import os

import numpy as np
import pytest
from PIL import Image

from kpalette import (
    ImageReadError,
    ImageWriteError,
    KPaletteWarning,
    OutputExistsError,
    load_image,
    quantize,
)
from kpalette.io import encode_indexed, save_indexed, save_truecolor
from pngbytes import huge_header_png, rgb16_png


@pytest.fixture
def rgb(rng):
    return (rng.integers(0, 4, size=(12, 10, 3)) * 85).astype(np.uint8)


def _save(img: Image.Image, path, **params):
    img.save(path, **params)
    return path


@pytest.mark.parametrize("ext", ["png", "bmp", "tif", "webp"])
def test_lossless_rgb_formats(tmp_path, rgb, ext):
    params = {"lossless": True} if ext == "webp" else {}
    path = _save(Image.fromarray(rgb), tmp_path / f"a.{ext}", **params)
    np.testing.assert_array_equal(load_image(path), rgb)


def test_jpeg_and_cmyk_jpeg(tmp_path):
    flat = np.full((16, 16, 3), (200, 40, 90), dtype=np.uint8)
    rgb_jpeg = load_image(_save(Image.fromarray(flat), tmp_path / "a.jpg", quality=100))
    cmyk = Image.fromarray(flat).convert("CMYK")
    cmyk_jpeg = load_image(_save(cmyk, tmp_path / "c.jpg", quality=100))
    assert rgb_jpeg.shape == cmyk_jpeg.shape == (16, 16, 3)
    assert np.abs(rgb_jpeg.astype(int) - flat).max() <= 3
    assert np.abs(cmyk_jpeg.astype(int) - flat).max() <= 6


def test_grey_and_grey_alpha(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 12
    loaded = load_image(_save(Image.fromarray(grey), tmp_path / "l.png"))
    assert loaded.shape == (4, 5, 3)
    np.testing.assert_array_equal(loaded[..., 1], grey)
    alpha = np.where(grey > 100, 255, 0).astype(np.uint8)
    la = Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)])
    loaded = load_image(_save(la, tmp_path / "la.png"))
    assert loaded.shape == (4, 5, 4)
    np.testing.assert_array_equal(loaded[..., 3], alpha)
    np.testing.assert_array_equal(loaded[..., 0], grey)


def test_palette_with_and_without_transparency(tmp_path):
    indices = (np.arange(30).reshape(5, 6) % 3).astype(np.uint8)
    colours = [255, 0, 0, 0, 255, 0, 0, 0, 255]
    img = Image.fromarray(indices).convert("P")
    img.putpalette(colours)
    plain = load_image(_save(img, tmp_path / "p.png"))
    assert plain.shape == (5, 6, 3)
    np.testing.assert_array_equal(plain[0, 1], [0, 255, 0])
    with_trns = load_image(_save(img, tmp_path / "pt.png", transparency=1))
    assert with_trns.shape == (5, 6, 4)
    assert with_trns[0, 1, 3] == 0 and with_trns[0, 0, 3] == 255


def test_rgba_keeps_alpha(tmp_path, rgb):
    alpha = np.tile(np.array([0, 128, 255], dtype=np.uint8), 40).reshape(12, 10)
    rgba = np.dstack([rgb, alpha])
    np.testing.assert_array_equal(
        load_image(_save(Image.fromarray(rgba), tmp_path / "a.png")), rgba
    )


def test_sixteen_bit_grey_and_rgb_png(tmp_path):
    samples = np.array([[0, 257, 32896], [65535, 1000, 65279]], dtype=np.uint16)
    img = Image.fromarray(samples.astype(np.uint16))
    path = _save(img, tmp_path / "g16.png")
    assert Image.open(path).mode.startswith("I")
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded[..., 0], [[0, 1, 128], [255, 4, 254]])
    rgb16 = np.stack([samples, samples[::-1], np.full_like(samples, 65535)], axis=2)
    path = tmp_path / "rgb16.png"
    path.write_bytes(rgb16_png(rgb16))
    loaded = load_image(path)
    assert loaded.shape == (2, 3, 3) and loaded.dtype == np.uint8
    # Rounded, as grey is (Pillow alone keeps the high byte: 0xFF00 would read 255).
    np.testing.assert_array_equal(loaded, (rgb16.astype(int) * 255 + 32767) // 65535)
    path.write_bytes(rgb16_png(np.full((2, 2, 3), 0xFF00, np.uint16)))
    assert (load_image(path) == 254).all()


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.warns(KPaletteWarning, match="has 2 frames; only the first is read"):
        loaded = load_image(path)
    assert loaded.shape == (8, 8, 3)
    np.testing.assert_array_equal(loaded[0, 0], [255, 0, 0])


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((10, 20, 3), dtype=np.uint8)
    array[:, :10] = 255  # left half white
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(img, tmp_path / "r.jpg", exif=exif, quality=100)
    loaded = load_image(path)
    assert loaded.shape == (20, 10, 3)
    assert loaded[2, 5].mean() > 200 and loaded[17, 5].mean() < 50  # top white, bottom black


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, not a picture\n"), "not an image"),
        (lambda p: p.write_bytes(huge_header_png(20000, 20000)), "image too large"),
    ],
)
def test_bad_files_are_refused(tmp_path, make, message):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageReadError, match=message):
        load_image(path)


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_truncated_files_are_refused(tmp_path, rng, ext):
    noise = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    buffer = _io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG" if ext == "jpg" else "PNG")
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        load_image(path)


def test_default_limit_is_pillows():
    from PIL import Image

    from kpalette.io import DEFAULT_MAX_PIXELS

    assert DEFAULT_MAX_PIXELS == Image.MAX_IMAGE_PIXELS


def test_max_pixels_can_be_raised_or_lowered(tmp_path, rgb):
    path = _save(Image.fromarray(rgb), tmp_path / "a.png")
    with pytest.raises(ImageReadError, match="120 pixels, over the limit of 100"):
        load_image(path, max_pixels=100)
    assert load_image(path, max_pixels=None).shape == (12, 10, 3)


@pytest.mark.parametrize(
    ("k", "depth"), [(2, 1), (3, 2), (4, 2), (5, 4), (16, 4), (17, 8), (256, 8)]
)
def test_palette_png_uses_the_smallest_bit_depth(tmp_path, rng, k, depth):
    palette = rng.integers(0, 256, size=(k, 3), dtype=np.uint8)
    indices = (np.arange(64 * 48) % k).reshape(48, 64).astype(np.uint8)
    data = encode_indexed(palette, indices, "PNG")
    assert data[24] == depth  # IHDR bit depth
    img = Image.open(_io.BytesIO(data))
    assert img.mode == "P"
    np.testing.assert_array_equal(np.asarray(img.convert("RGB")), palette[indices])


def test_palette_png_alpha_and_gif(tmp_path):
    palette = np.array([[10, 20, 30, 255], [0, 0, 0, 0], [200, 100, 50, 128]], dtype=np.uint8)
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    png = tmp_path / "a.png"
    save_indexed(png, palette, indices)
    np.testing.assert_array_equal(load_image(png), palette[indices])
    gif = tmp_path / "a.gif"
    save_indexed(gif, palette, indices)
    loaded = load_image(gif)
    assert loaded.shape == (2, 3, 4)
    assert (loaded[indices == 1, 3] == 0).all() and (loaded[indices == 0, 3] == 255).all()


def test_saving_refuses_to_overwrite_and_is_atomic(tmp_path, rgb):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="output exists"):
        save_truecolor(out, rgb)
    assert out.read_bytes() == b"precious"
    save_truecolor(out, rgb, overwrite=True)
    np.testing.assert_array_equal(load_image(out), rgb)
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary files left
    with pytest.raises(ImageWriteError, match="output folder does not exist"):
        save_truecolor(tmp_path / "missing" / "x.png", rgb)
    with pytest.raises(ImageWriteError, match="unknown output extension '.xyz'"):
        save_truecolor(tmp_path / "x.xyz", rgb)
    with pytest.raises(ImageWriteError, match="is the input"):
        save_truecolor(out, rgb, overwrite=True, protect=[out])


@pytest.mark.parametrize("ext", ["png", "gif", "webp", "tif"])
def test_rgba_round_trip_keeps_transparency(tmp_path, ext):
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[:, :15] = [30, 160, 90, 255]
    rgba[:, 15:] = [250, 250, 250, 0]
    with pytest.warns(
        KPaletteWarning,
        match=r"2 distinct colours \(fully transparent counted as one\), fewer than k=4",
    ):
        result = quantize(rgba, 4)
    out = tmp_path / f"a.{ext}"
    result.save(out)
    loaded = load_image(out)
    assert loaded.shape == (20, 30, 4)
    assert (loaded[:, 15:, 3] == 0).all()
    np.testing.assert_array_equal(loaded[:, :15], rgba[:, :15])


def test_jpeg_output_refuses_transparency(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[:2] = [10, 10, 10, 255]
    result = quantize(rgba, 2)
    with pytest.raises(ImageWriteError, match="JPEG has no alpha"):
        result.save(tmp_path / "a.jpg")
    assert list(tmp_path.iterdir()) == []


def test_the_output_format_registry():
    from kpalette.io import OUTPUT_FORMATS, format_for_path, output_format

    assert output_format("a.PNG") is OUTPUT_FORMATS["png"]
    assert output_format("a.jpeg") is output_format("a.jpg") is OUTPUT_FORMATS["jpeg"]
    assert OUTPUT_FORMATS["jpeg"].lossy and not OUTPUT_FORMATS["webp"].lossy
    assert OUTPUT_FORMATS["gif"].alpha == "binary" and OUTPUT_FORMATS["png"].palette
    assert format_for_path("a.png") == "PNG" and format_for_path("a.webp") == "WEBP"
    with pytest.raises(ImageWriteError, match="unknown output extension '.bmp'; use one of"):
        output_format("a.bmp")
    with pytest.raises(ImageWriteError, match="GIF holds palette images only"):
        format_for_path("a.gif", truecolor=True)


def test_an_rgb_png_with_a_colour_key_keeps_its_transparency(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:, :3] = [10, 200, 30]
    path = tmp_path / "key.png"
    Image.fromarray(rgb).save(path, transparency=(10, 200, 30))
    loaded = load_image(path)
    assert loaded.shape == (4, 6, 4)
    assert (loaded[:, :3, 3] == 0).all() and (loaded[:, 3:, 3] == 255).all()


def test_a_float_image_with_nan_or_infinity_is_an_error(tmp_path):
    for bad in (np.nan, np.inf):
        samples = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
        samples[1, 2] = bad
        path = tmp_path / "float.tif"
        Image.fromarray(samples, mode="F").save(path)
        with pytest.raises(ImageReadError, match="1 NaN or infinite value"):
            load_image(path)


@pytest.mark.parametrize("error", [IndexError("list index out of range"), TypeError(), KeyError(3)])
def test_any_failure_inside_a_decoder_is_one_read_error(tmp_path, rgb, monkeypatch, error):
    from PIL import ImageFile

    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)

    def broken(self):
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", broken)
    with pytest.raises(ImageReadError, match=r"cannot decode .*a\.png: "):
        load_image(path)


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next(tmp_path, rgb):
    import subprocess
    import sys

    out = tmp_path / "out.png"
    # A writer killed between creating its temporary file and moving it into place.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".out.png.kpalette-{dead.stdout.strip()}-abc123.tmp"
    stale.write_bytes(b"half a file")
    other = tmp_path / f".other.png.kpalette-{dead.stdout.strip()}-abc123.tmp"
    other.write_bytes(b"another output's")
    save_truecolor(out, rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, other.name])


def test_a_symbolic_link_is_written_through(tmp_path, rgb):
    target = tmp_path / "target.png"
    link = tmp_path / "link.png"
    link.symlink_to(target)  # dangling until written
    save_truecolor(link, rgb)
    assert link.is_symlink() and target.is_file()
    with pytest.raises(OutputExistsError):
        save_truecolor(link, rgb)
    save_truecolor(link, rgb[::-1], overwrite=True)
    assert link.is_symlink()
    np.testing.assert_array_equal(load_image(target), rgb[::-1])
    with pytest.raises(ImageWriteError, match="is the input file"):
        save_truecolor(link, rgb, overwrite=True, protect=[target])


@pytest.mark.parametrize("orientation", range(2, 9))
def test_the_16_bit_path_turns_images_as_pillow_does(orientation):
    from PIL import ImageOps

    from kpalette.io.decode import _ORIENTATION

    array = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    turned = np.asarray(ImageOps.exif_transpose(img))
    np.testing.assert_array_equal(_ORIENTATION[orientation](array), turned)


@pytest.mark.parametrize(
    ("image_format", "side", "fits"),
    [("GIF", 65_535, True), ("GIF", 65_536, False), ("WEBP", 16_383, True),
     ("WEBP", 16_384, False), ("JPEG", 65_500, True), ("JPEG", 65_501, False),
     ("PNG", 1_000_000, True), ("TIFF", 1_000_000, True)],
)  # fmt: skip
def test_each_format_s_largest_side(image_format, side, fits):
    from kpalette.exceptions import ImageWriteError
    from kpalette.io import check_dimensions

    if fits:
        check_dimensions(image_format, 2, side)
        check_dimensions(image_format, side, 2)
    else:
        with pytest.raises(ImageWriteError, match=f"{image_format} holds at most .* a side"):
            check_dimensions(image_format, side, 2)


def test_an_image_too_tall_for_gif_or_webp_is_an_error_not_a_crash():
    from kpalette.exceptions import ImageWriteError
    from kpalette.io import encode_truecolor

    indices = np.zeros((70_000, 4), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 255, 255]], dtype=np.uint8)
    with pytest.raises(ImageWriteError, match=r"this image is 4x70,000; write .png or .tif"):
        encode_indexed(palette, indices, "GIF")
    with pytest.raises(ImageWriteError, match="WEBP holds at most 16,383 pixels a side"):
        encode_truecolor(palette[indices], "WEBP")
    assert encode_indexed(palette, indices, "PNG")[:4] == b"\x89PNG"
