"""QuantizedImage is a value: read-only, and writing it gives a new value."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from kpalette import QuantizedImage, load_image, quantize


def test_a_result_cannot_be_changed(small_photo):
    result = quantize(small_photo, 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.choice = {"method": "x"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.output_bytes = 1
    for array in (result.palette, result.indices, result.counts, result.original):
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    exact = quantize(small_photo, 6, tune="mse")  # each colour to one entry: a table
    assert all(not a.flags.writeable for a in exact.color_table)


def test_a_callers_arrays_stay_writeable():
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    indices = np.zeros((3, 4), np.uint8)
    result = QuantizedImage(palette, indices)
    assert palette.flags.writeable and indices.flags.writeable
    assert not result.palette.flags.writeable
    assert list(result.counts) == [12, 0]


def test_save_returns_the_written_image_and_leaves_the_result_alone(tmp_path, small_photo):
    result = quantize(small_photo, 8)
    mse = result.mse
    saved = result.save(tmp_path / "a.png")
    assert result.output_path is None and result.output_bytes is None
    assert saved.output_path == tmp_path / "a.png"
    assert saved.output_bytes == (tmp_path / "a.png").stat().st_size
    assert saved.summary()["output"] == str(tmp_path / "a.png")
    assert saved.mse == mse and "mse" in saved.__dict__  # a lossless file: measures kept
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), result.to_array())


def test_a_lossy_file_is_measured_in_the_new_value_only(tmp_path, small_photo):
    result = quantize(small_photo, 8)
    palette_mse = result.mse
    saved = result.save(tmp_path / "a.jpg")
    assert saved.written is not None and result.written is None
    assert saved.mse != palette_mse and result.mse == palette_mse
    assert saved.summary()["lossy"] and not result.summary()["lossy"]
    data, as_bytes = result.encode_file("JPEG")
    assert as_bytes.output_bytes == len(data) and as_bytes.output_path is None
    assert as_bytes.mse == pytest.approx(saved.mse)


def test_replace_keeps_the_measures_of_unchanged_pixels(small_photo):
    result = quantize(small_photo, 5)
    _ = result.mse, result.delta_e
    chosen = result.replace(choice={"method": "knee", "k": 5, "reason": "r"})
    assert chosen.__dict__["mse"] == result.mse and chosen.choice["k"] == 5
    other = result.replace(palette=result.palette[::-1])
    assert "mse" not in other.__dict__
    _ = result.png_bytes
    kept_order = result.replace(keep_order=True)  # another file: its size is measured again
    assert "png_bytes" not in kept_order.__dict__ and "mse" not in kept_order.__dict__


def test_one_result_is_read_by_many_threads(small_photo):
    result = quantize(small_photo, 7)
    answers = []

    def read():
        answers.append((result.mse, result.delta_e, result.png_bytes, result.summary()["mse"]))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(answers)) == 1 and len(answers) == 8
