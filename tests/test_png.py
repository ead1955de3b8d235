"""The palette PNG encoder: read back by Pillow and by zlib, and stable bytes."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from kpalette import png
from pngbytes import chunk_kinds


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        payload = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + payload), kind
        chunks.append((kind, payload))
        position += 12 + length
    return chunks


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 16, 17, 200, 256])
@pytest.mark.parametrize("width", [1, 7, 8, 33])
def test_every_bit_depth_and_odd_width_reads_back_exactly(rng, k, width):
    palette = rng.integers(0, 256, size=(k, 3), dtype=np.uint8)
    indices = rng.integers(0, k, size=(5, width))
    for reorder in (True, False):
        data = png.encode_palette_png(palette, indices, reorder=reorder)
        kinds = [kind for kind, _ in _chunks(data)]
        assert kinds[:2] == [b"IHDR", b"PLTE"] and kinds[-1] == b"IEND" and b"tRNS" not in kinds
        assert data[24] == png.bit_depth_for(k) == min(d for d in (1, 2, 4, 8) if k <= 1 << d)
        image = Image.open(io.BytesIO(data))
        assert image.mode == "P" and image.size == (width, 5)
        written = np.frombuffer(bytes(image.getpalette()[: 3 * k]), np.uint8).reshape(k, 3)
        # The same colour at every pixel; the entries themselves, in some order.
        np.testing.assert_array_equal(written[np.asarray(image)], palette[indices])
        assert sorted(map(tuple, written)) == sorted(map(tuple, palette))
        if not reorder:  # as given
            np.testing.assert_array_equal(np.asarray(image), indices)
            np.testing.assert_array_equal(written, palette)


def test_translucent_entries_go_into_a_trns_chunk_up_to_the_last_one():
    palette = np.array([[0, 0, 0, 0], [9, 9, 9, 100], [1, 2, 3, 255], [4, 5, 6, 255]], np.uint8)
    indices = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    data = png.encode_palette_png(palette, indices)
    trns = dict(_chunks(data))[b"tRNS"]
    assert trns == bytes([0, 100])
    rgba = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    np.testing.assert_array_equal(rgba, palette[indices])


def test_sliced_parallel_deflate_is_one_valid_stream_whatever_the_threads(rng, monkeypatch):
    monkeypatch.setattr(png, "SLICE_BYTES", 4096)  # 15 slices
    # A random 3000-byte pattern repeated: past the first copy, every byte of a slice
    # matches the bytes just before it, in the previous slice.
    data = rng.integers(0, 256, size=3000, dtype=np.uint8).tobytes() * 20
    streams = {workers: png.deflate(data, 6, workers=workers) for workers in (1, 2, 5)}
    assert streams[1] == streams[2] == streams[5]
    assert zlib.decompress(streams[1]) == data
    # Each slice primed with the 32 kB before it stays small: unprimed, every slice
    # would store about 3000 bytes of its own (about 13 times the one-pass size).
    assert len(streams[1]) < 1.5 * len(zlib.compress(data, 6))
    assert zlib.decompress(png.deflate(b"", 6)) == b""


def test_bad_arguments_are_refused_with_what_was_received():
    with pytest.raises(ValueError, match="got shape \\(300, 3\\)"):
        png.encode_palette_png(np.zeros((300, 3), np.uint8), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="indices must be in 0..1 .* got 0..2"):
        png.encode_palette_png(np.zeros((2, 3), np.uint8), np.array([[0, 2]]))
    with pytest.raises(ValueError, match="0..9, got 10"):
        png.deflate(b"abc", 10)


def test_palette_pngs_have_their_chunks_and_trns_only_when_translucent():
    indices = np.array([[0, 1], [1, 0]])
    opaque = png.encode_palette_png(np.array([[0, 0, 0], [255, 255, 255]], np.uint8), indices)
    translucent = png.encode_palette_png(
        np.array([[0, 0, 0, 0], [255, 255, 255, 255]], np.uint8), indices
    )
    assert opaque.startswith(png.SIGNATURE)
    assert chunk_kinds(opaque) == [b"IHDR", b"PLTE", b"IDAT", b"IEND"]
    assert chunk_kinds(translucent) == [b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"]


def test_small_images_get_libdeflates_slowest_levels_and_large_ones_zlib_ng(rng, monkeypatch):
    import deflate

    rows = memoryview(rng.integers(0, 8, size=200_000, dtype=np.uint8).tobytes())
    # Up to the first limit, libdeflate's level 12: smaller than zlib's best.
    small = png.compress(rows, 8)
    assert small == deflate.zlib_compress(bytes(rows), png.EFFORT_LEVELS[0][1])
    assert zlib.decompress(small) == bytes(rows)
    assert len(small) < len(png.deflate(rows, 9))
    # Past the last, zlib-ng at the bit depth's level; an explicit level is zlib-ng's.
    monkeypatch.setattr(png, "EFFORT_LEVELS", ())
    assert png.compress(rows, 8) == png.deflate(rows, 9)  # up to LEVEL_9_BYTES
    monkeypatch.setattr(png, "LEVEL_9_BYTES", 0)
    assert [png.level_for(depth) for depth in (1, 2, 4, 8)] == [9, 9, 9, 6]
    assert png.compress(rows, 8) == png.deflate(rows, 6)
    assert png.compress(rows, 4) == png.deflate(rows, 9)
    assert png.compress(rows, 4, level=3) == png.deflate(rows, 3)


def test_photos_are_smaller_than_unfiltered_in_the_given_order():
    from kpalette import load_image, quantize
    from kpalette.data import sample_image_path

    photo = load_image(sample_image_path())
    for k in (16, 64):
        result = quantize(photo, k)
        default = png.encode_palette_png(result.palette, result.indices)
        plain = png.encode_palette_png(result.palette, result.indices, level=9)
        assert len(default) < 0.97 * len(plain)
        decoded = np.asarray(Image.open(io.BytesIO(default)).convert("RGB"))
        np.testing.assert_array_equal(decoded, result.palette[result.indices])


def test_graphics_are_deflated_again_at_level_nine(rng, monkeypatch):
    monkeypatch.setattr(png, "EFFORT_LEVELS", ())  # the zlib-ng path of large images
    monkeypatch.setattr(png, "LEVEL_9_BYTES", 0)
    # A screenshot-like index map: flat panels, rows of repeated glyph-like runs.
    indices = np.zeros((400, 600), np.uint8)
    indices[40:360, 30:570] = 1
    glyphs = rng.integers(2, 64, size=(12, 40), dtype=np.uint8)
    for row in range(60, 340, 20):
        indices[row : row + 12, 50:530] = np.tile(glyphs, 12)[:, :480]
        glyphs = np.roll(glyphs, 7, axis=1)
    rows = png._filtered_rows(png._packed(indices, 8), 0)
    stream = png.compress(memoryview(rows.reshape(-1)), 8)
    at_nine, at_six = png.deflate(rows.reshape(-1), 9), png.deflate(rows.reshape(-1), 6)
    assert len(at_six) < png.GRAPHICS_RATIO * indices.size
    assert stream == at_nine and len(at_nine) < len(at_six)


@pytest.mark.parametrize("sample_bytes", [1 << 18, 4096])  # judged whole, on bands
def test_smooth_images_are_written_in_lightness_order_and_filtered(rng, monkeypatch, sample_bytes):
    monkeypatch.setattr(png, "SAMPLE_BYTES", sample_bytes)
    # A smooth grey image over 64 greys listed in no order: sorted and filtered
    # indices win, the file reads back exactly, and it is smaller than the same
    # indices written unfiltered in the given order. The same holds for colours.
    height, width = 120, 160
    light = np.add.outer(np.linspace(0, 150, height), np.linspace(0, 100, width))
    light += rng.normal(0, 3, light.shape)
    levels = rng.permutation(np.linspace(0, 255, 64).astype(np.uint8))
    indices = np.abs(levels[None, None, :].astype(float) - light[..., None]).argmin(axis=2)
    grey = np.repeat(levels[:, None], 3, axis=1)
    tinted = grey.copy()
    tinted[:, 2] = np.minimum(tinted[:, 2].astype(int) + 1, 255)
    for palette in (grey, tinted):
        data = png.encode_palette_png(palette, indices)
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        np.testing.assert_array_equal(decoded, palette[indices])
        plte = dict(_chunks(data))[b"PLTE"]
        assert list(plte[::3]) == sorted(levels)
        filters = set(_scanline_filters(data, width))
        assert filters - {0}, filters
        kept = png.encode_palette_png(palette, indices, reorder=False)
        assert dict(_chunks(kept))[b"PLTE"] == palette.tobytes()  # as given
        plain = png.encode_palette_png(palette, indices, level=9)
        assert len(data) < 0.9 * len(plain)


def _scanline_filters(data: bytes, width: int) -> list[int]:
    stream = b"".join(payload for kind, payload in _chunks(data) if kind == b"IDAT")
    raw = zlib.decompress(stream)
    return list(raw[:: width + 1])


def test_neighbour_order_puts_entries_that_touch_side_by_side(rng):
    # Vertical stripes of entries 5, 0, 7, 2, 6 (and 1, 3, 4 nowhere): each touches
    # only its stripe neighbours, so the chain is that sequence (or its reverse).
    stripes = np.array([5, 0, 7, 2, 6])
    indices = np.repeat(stripes, [3, 4, 5, 2, 6])[None, :].repeat(10, axis=0)
    order = png.neighbour_order(indices, 8)
    assert sorted(order) == list(range(8))
    touching = list(order[:5])
    assert touching in (list(stripes), list(stripes[::-1]))
    # A random map: still a permutation.
    order = png.neighbour_order(rng.integers(0, 200, size=(50, 70)), 200)
    assert sorted(order) == list(range(200))


def test_translucent_palettes_keep_their_order(rng):
    palette = rng.integers(0, 256, size=(40, 4), dtype=np.uint8)
    palette[:5, 3] = 0
    palette[5:, 3] = 255
    indices = rng.integers(0, 40, size=(30, 30))
    data = png.encode_palette_png(palette, indices)
    assert dict(_chunks(data))[b"PLTE"] == palette[:, :3].tobytes()
    assert dict(_chunks(data))[b"tRNS"] == bytes(5)
