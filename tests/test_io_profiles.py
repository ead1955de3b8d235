"""kpalette.io.profiles: embedded ICC profiles honoured as a file is read.

The profiles are real ones from Debian's colord-data and icc-profiles-free (CI installs
them); "as displayed" is what a colour-managed viewer shows, LittleCMS's conversion to
sRGB, and for Adobe RGB also a conversion written here from its published primaries
and gamma, so that the oracle is not only the library under test's own."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from skimage.color import deltaE_ciede2000, rgb2lab

from conftest import data_image
from kpalette import KPaletteWarning, load_image, quantize
from kpalette.cli import main

COLORD = Path("/usr/share/color/icc/colord")
FREE = Path("/usr/share/color/icc")
SRGB = ImageCms.createProfile("sRGB")


def profile_path(path: Path) -> Path:
    """A real profile file; the test is skipped when Debian's packages are absent,
    and fails instead when KPALETTE_REQUIRE_PROFILES is set (CI installs them)."""
    if not path.is_file():
        if os.environ.get("KPALETTE_REQUIRE_PROFILES"):
            pytest.fail(
                f"missing colour profile {path} (apt install colord-data icc-profiles-free)"
            )
        pytest.skip(f"needs {path} (Debian's colord-data, icc-profiles-free)")
    return path


@pytest.fixture(scope="module")
def photo():
    """chelsea-crop.png: an sRGB photo (CC0)."""
    return np.asarray(Image.open(data_image("chelsea-crop.png")).convert("RGB"))


def in_profile(srgb: np.ndarray, name: str, fmt: str = "PNG") -> bytes:
    """The file a wide-gamut camera or editor writes: ``srgb`` converted to the
    profile's device values, with the profile embedded."""
    target = ImageCms.getOpenProfile(str(profile_path(COLORD / f"{name}.icc")))
    device = ImageCms.profileToProfile(
        Image.fromarray(srgb), SRGB, target, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC
    )
    buffer = io.BytesIO()
    extra = {"quality": 95} if fmt == "JPEG" else {}
    device.save(buffer, fmt, icc_profile=target.tobytes(), **extra)
    return buffer.getvalue()


def as_displayed(data: bytes) -> np.ndarray:
    """What a colour-managed viewer shows of a file: its values through its profile."""
    img = Image.open(io.BytesIO(data))
    profile = img.info.get("icc_profile")
    if profile:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        img = ImageCms.profileToProfile(img, source, SRGB, outputMode="RGB")
    return np.asarray(img.convert("RGB"))


def mean_de(a: np.ndarray, b: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb2lab(a[..., :3]), rgb2lab(b[..., :3])).mean())


@pytest.mark.parametrize(("name", "fmt"), [("ProPhotoRGB", "JPEG"), ("AdobeRGB1998", "PNG")])
def test_wide_gamut_output_looks_as_the_input_does(tmp_path, photo, name, fmt):
    """At k = 256 the output, shown as it is (sRGB, no profile), is within mean
    CIEDE2000 2.5 of the input as a managed viewer shows it (read as device values,
    a ProPhoto JPEG was 11 away); at k = 16 within 1 of the same photo sent in sRGB."""
    data = in_profile(photo, name, fmt)
    source = tmp_path / f"wide.{fmt.lower()}"
    source.write_bytes(data)
    shown = as_displayed(data)
    srgb_file = tmp_path / "srgb.png"
    Image.fromarray(shown).save(srgb_file)
    for k, bound in ((256, 2.5), (16, None)):
        out = tmp_path / f"out-{k}.png"
        assert main(["compress", str(source), "-k", str(k), "-o", str(out), "--quiet"]) == 0
        written = Image.open(out)
        assert "icc_profile" not in written.info  # sRGB, said by having no profile
        error = mean_de(shown, np.asarray(written.convert("RGB")))
        if bound is not None:
            assert error < bound
        else:
            same = np.asarray(quantize(srgb_file, k=16).to_array())
            assert error <= mean_de(shown, same) + 1.0


def test_adobe_rgb_against_its_published_primaries():
    """Adobe RGB (1998) by its specification: gamma 563/256, the D65 primaries' RGB to
    XYZ matrix; then XYZ to linear sRGB and the sRGB curve. In-gamut colours read
    within 2 levels of that."""
    rng = np.random.default_rng(5)
    device = rng.integers(40, 216, size=(32, 32, 3), dtype=np.uint8)
    adobe = ImageCms.getOpenProfile(str(profile_path(COLORD / "AdobeRGB1998.icc")))
    buffer = io.BytesIO()
    Image.fromarray(device).save(buffer, "PNG", icc_profile=adobe.tobytes())
    read = load_image(buffer.getvalue()).astype(np.float64)

    linear = (device / 255.0) ** (563 / 256)
    to_xyz = np.array(
        [
            [0.57667, 0.18556, 0.18823],
            [0.29734, 0.62736, 0.07529],
            [0.02703, 0.07069, 0.99134],
        ]
    )
    to_srgb = np.array(
        [
            [3.2406, -1.5372, -0.4986],
            [-0.9689, 1.8758, 0.0415],
            [0.0557, -0.2040, 1.0570],
        ]
    )
    rgb = linear @ to_xyz.T @ to_srgb.T
    inside = ((rgb >= 0) & (rgb <= 1)).all(axis=-1)
    rgb = np.clip(rgb, 0, 1)
    encoded = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055) * 255
    assert inside.mean() > 0.5
    assert np.abs(read - encoded)[inside].max() <= 2.0
    assert np.abs(read - device)[inside].max() > 10  # device values were not kept


def test_palette_names_the_colours_as_shown(photo):
    """A flat ProPhoto image: its one palette entry is the sRGB colour a managed
    viewer shows, not the device value."""
    flat = np.broadcast_to(np.array([200, 60, 40], np.uint8), (16, 16, 3)).copy()
    data = in_profile(flat, "ProPhotoRGB")
    shown = as_displayed(data)[0, 0]
    result = quantize(data, k=1)
    assert np.abs(result.palette[0].astype(int) - shown).max() <= 1
    assert result.hex[0] == "#{:02x}{:02x}{:02x}".format(*result.palette[0])
    device = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[0, 0]
    assert np.abs(shown.astype(int) - device).max() > 10


def test_srgb_profile_keeps_values_exactly(photo):
    """An sRGB profile (icc-profiles-free's sRGB.icc, not LittleCMS's own) is
    recognised: the values are read untouched, with no round-trip rounding."""
    profile = ImageCms.getOpenProfile(str(profile_path(FREE / "sRGB.icc")))
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "PNG", icc_profile=profile.tobytes())
    assert np.array_equal(load_image(buffer.getvalue()), photo)


def test_alpha_kept_through_conversion(photo):
    adobe = ImageCms.getOpenProfile(str(profile_path(COLORD / "AdobeRGB1998.icc")))
    rgba = np.dstack(
        [
            photo,
            np.linspace(0, 255, photo.shape[1]).astype(np.uint8)[None].repeat(photo.shape[0], 0),
        ]
    )
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", icc_profile=adobe.tobytes())
    read = load_image(buffer.getvalue())
    assert read.shape == rgba.shape
    assert np.array_equal(read[..., 3], rgba[..., 3])
    assert np.abs(read[..., :3].astype(int) - photo).max() > 10


def test_grey_profile_on_grey_image():
    """A grey image with a grey profile (gamma 1.0 CIE L, icc-profiles-free) becomes
    sRGB grey: the same value in all three channels, brightened from linear."""
    profile = ImageCms.getOpenProfile(str(profile_path(FREE / "Gray-CIE_L.icc")))
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    buffer = io.BytesIO()
    Image.fromarray(grey, "L").save(buffer, "PNG", icc_profile=profile.tobytes())
    read = load_image(buffer.getvalue())
    assert read.shape == (*grey.shape, 3)
    assert np.abs(read[..., 0].astype(int) - read[..., 2]).max() <= 1
    assert not np.array_equal(read[..., 0], grey)


def test_unusable_profiles_warn_and_read_device_values(photo):
    """A damaged profile, and one for another colour space than the image's: one
    warning each, naming the file, and the values read as they are."""
    grey = ImageCms.getOpenProfile(str(profile_path(FREE / "Gray.icc")))
    for profile, words in ((b"\0" * 200, "cannot be read"), (grey.tobytes(), "is for GRAY data")):
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "PNG", icc_profile=profile)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read = load_image(buffer.getvalue())
        assert np.array_equal(read, photo)
        messages = [str(w.message) for w in caught if issubclass(w.category, KPaletteWarning)]
        assert len(messages) == 1
        assert words in messages[0] and "<stdin>" in messages[0]


def test_sixteen_bit_png_with_profile(photo):
    """A 16-bit RGB PNG (read through libspng) with an iCCP chunk: converted as the
    8-bit file of the same values is."""
    import zlib

    from pngbytes import SIGNATURE, chunk, header, image_data

    adobe = ImageCms.getOpenProfile(str(profile_path(COLORD / "AdobeRGB1998.icc")))
    samples = photo.astype(np.uint16) * 257
    height, width, _ = samples.shape
    rows = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))
    iccp = chunk(b"iCCP", b"Adobe RGB\x00\x00" + zlib.compress(adobe.tobytes()))
    data = SIGNATURE + header(width, height, 16, 2) + iccp + image_data(rows) + chunk(b"IEND", b"")
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "PNG", icc_profile=adobe.tobytes())
    assert np.array_equal(load_image(data), load_image(buffer.getvalue()))
