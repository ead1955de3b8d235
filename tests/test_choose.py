"""Choosing k: the knee on images with a known number of colour blobs, and targets."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kpalette import KSweep, choose_k, quantize
from kpalette.choose import knee_point


def blobs(n_blobs: int, seed: int = 0, shape=(90, 120)) -> np.ndarray:
    """An image whose pixels fall in ``n_blobs`` well separated colour clusters."""
    rng = np.random.default_rng(seed)
    corners = np.array([[r, g, b] for r in (30, 225) for g in (30, 225) for b in (30, 225)])
    centres = np.vstack([corners, [[128, 128, 128], [225, 128, 30], [30, 128, 225]]])
    chosen = centres[rng.permutation(len(centres))[:n_blobs]]
    labels = rng.integers(0, n_blobs, shape)
    noise = rng.normal(0, 7, (*shape, 3))
    return np.clip(chosen[labels] + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("n_blobs", [2, 3, 5, 7, 9])
def test_knee_finds_the_number_of_blobs(n_blobs):
    choice = choose_k(blobs(n_blobs, seed=n_blobs), method="knee")
    assert choice.k == n_blobs, choice.reason
    assert choice.method == "knee" and choice.result.n_colors == n_blobs
    assert sorted(choice.curve) == list(range(1, 17))
    inertia = [choice.curve[k]["inertia"] for k in range(1, 17)]
    assert knee_point(range(1, 17), inertia) == n_blobs
    assert f"happens by k={n_blobs}" in choice.reason


def test_knee_point_by_hand():
    ks = [1, 2, 3, 4, 5, 6]
    assert knee_point(ks, [100, 60, 20, 18, 17, 16]) == 3
    # On a log scale: the last big fall (9 -> 1.6) is the bend, not the first.
    assert knee_point(range(1, 11), [120, 80, 50, 30, 9, 1.6, 1.5, 1.4, 1.3, 1.2]) == 6
    assert knee_point(ks, [5, 5, 5, 5, 5, 5]) == 1
    with pytest.raises(ValueError, match="at least 3"):
        knee_point([1, 2], [3, 1])


@pytest.mark.parametrize("target", [24.0, 31.5])
def test_target_psnr_is_reached_by_the_fewest_colours(small_photo, target):
    choice = choose_k(small_photo, target_psnr=target)
    assert choice.result.psnr >= target
    assert quantize(small_photo, choice.k).psnr == pytest.approx(choice.result.psnr)
    assert quantize(small_photo, choice.k - 1).psnr < target
    assert f"PSNR {target:g} dB" in choice.reason


def test_target_psnr_with_dithering_is_measured_on_the_dithered_image(small_photo):
    choice = choose_k(small_photo, target_psnr=26, dither=True)
    assert choice.result.dither == 1.0 and choice.result.psnr >= 26
    assert quantize(small_photo, choice.k - 1, dither=True).psnr < 26


@pytest.mark.parametrize("max_bytes", [1000, 2500])
def test_max_bytes_fits_and_one_more_colour_would_not(small_photo, max_bytes):
    choice = choose_k(small_photo, max_bytes=max_bytes)
    assert len(choice.result.encode("PNG")) <= max_bytes
    assert len(quantize(small_photo, choice.k + 1).encode("PNG")) > max_bytes
    assert choice.curve[choice.k]["bytes"] <= max_bytes < choice.curve[choice.k + 1]["bytes"]


def test_max_bytes_in_gif(small_photo):
    choice = choose_k(small_photo, max_bytes=3000, image_format="GIF")
    assert len(choice.result.encode("GIF")) <= 3000
    assert len(quantize(small_photo, choice.k + 1).encode("GIF")) > 3000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_psnr": 90}, "PSNR 90 dB is not reached with 256 colours"),
        ({"max_bytes": 10}, "even 2 colours take"),
        ({"max_bytes": 10, "target_psnr": 3}, "choose one of"),
    ],
)
def test_targets_that_cannot_be_met(small_photo, kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_k(small_photo, **kwargs)


def test_a_shared_sweep_keeps_each_format_s_size_apart(small_photo):
    sweep = KSweep(small_photo)
    gif = choose_k(sweep, max_bytes=3000, image_format="GIF")
    png_bytes = sweep.size(gif.k, "PNG")
    assert png_bytes == len(gif.result.encode("PNG"))
    assert sweep.size(gif.k, "GIF") == len(gif.result.encode("GIF")) <= 3000
    assert sweep.curve[gif.k]["bytes"] == png_bytes
    assert sweep.curve[gif.k][KSweep.size_key("GIF")] == len(gif.result.encode("GIF"))


def test_quantize_many_equals_quantize_for_each_k(small_photo):
    from kpalette import quantize_many

    many = quantize_many(small_photo, [2, 5, 9])
    for result, k in zip(many, [2, 5, 9], strict=True):
        alone = quantize(small_photo, k)
        np.testing.assert_array_equal(result.palette, alone.palette)
        np.testing.assert_array_equal(result.indices, alone.indices)
        assert result.mse == alone.mse and result.inertia == alone.inertia


@pytest.mark.parametrize("name", ["small", "rocket"])
def test_auto_is_the_fewest_colours_whose_difference_is_not_seen_at_a_glance(small_photo, name):
    from conftest import data_image
    from kpalette import load_image
    from kpalette.choose import AUTO_DELTA_E

    image = small_photo if name == "small" else load_image(data_image("rocket.jpg"))[::2, ::2]
    sweep = KSweep(image)
    choice = choose_k(sweep, k="auto", method="delta_e")
    assert choice.method == "delta_e" and "not seen at a glance" in choice.reason
    assert choice.result.delta_e <= AUTO_DELTA_E
    # One fewer is seen: by the quick fit the search probes, or else by the full fit
    # (which decides, and may score a little above its quick fit: with tune="eye" a
    # small distinct colour can take an entry, for a little more mean difference).
    k = choice.k - 1
    assert sweep.delta_e_estimate(k) > AUTO_DELTA_E or sweep.delta_e(k) > AUTO_DELTA_E
    assert choice.result.choice["k"] == choice.k == choice.result.n_colors


def test_auto_says_when_even_the_most_colours_are_seen(rng):
    noise = rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
    choice = choose_k(noise, k="auto", max_k=8, method="delta_e")
    assert choice.k == 8 and "the most colours searched" in choice.reason
    assert choice.result.delta_e > 2
    # The default: SSIMULACRA2's high quality, and the most colours when not reached.
    choice = choose_k(noise, k="auto", max_k=8)
    assert choice.k == 8 and "under the 70 of -k auto" in choice.reason


@pytest.mark.parametrize("name", ["small", "chelsea-crop.png"])
def test_auto_is_the_fewest_colours_of_high_quality(small_photo, name):
    """-k auto is a documented target: the fewest colours whose SSIMULACRA2 (the
    ``ssimulacra2`` package's score) reaches 70, a few percent of k below not."""
    from ssimulacra2 import compute_ssimulacra2

    from conftest import data_image
    from kpalette import load_image
    from kpalette.choose import AUTO_QUALITY

    image = small_photo if name == "small" else load_image(data_image(name))
    sweep = KSweep(image)
    choice = choose_k(sweep, k="auto")
    assert choice.method == "quality" and "-k auto's target" in choice.reason
    assert AUTO_QUALITY <= sweep.ssimulacra2(choice.k) <= AUTO_QUALITY + 1.5
    fewer = max(2, choice.k - max(1, choice.k // 32))
    assert sweep.ssimulacra2(fewer) < AUTO_QUALITY
    with tempfile.TemporaryDirectory() as folder:
        a, b = Path(folder) / "a.png", Path(folder) / "b.png"
        Image.fromarray(image).save(a)
        Image.fromarray(choice.result.to_array()).save(b)
        assert abs(compute_ssimulacra2(str(a), str(b)) - sweep.ssimulacra2(choice.k)) < 1.0


def test_a_bounded_sweep_keeps_the_most_recent_fits_and_remakes_the_others(small_photo):
    bounded = KSweep(small_photo, max_fits=2, max_results=1)
    full = KSweep(small_photo)
    for k in (3, 5, 3, 7):
        bounded.fit(k)
    assert bounded.fitted_ks == [3, 7]  # 5 was the least recently used
    for k in (3, 5, 7):
        np.testing.assert_array_equal(bounded.fit(k).palette, full.fit(k).palette)
        np.testing.assert_array_equal(bounded.result(k).indices, full.result(k).indices)
        assert len(bounded.results) == 1 and len(bounded.fitted_ks) <= 2
        assert bounded.point(k) == full.point(k)


@pytest.mark.parametrize("limit", [0, -1, 2.5, "3"])
def test_a_sweep_refuses_a_bad_cache_limit(small_photo, limit):
    with pytest.raises(ValueError, match="max_fits must be a whole number"):
        KSweep(small_photo, max_fits=limit)


def test_quality_is_reached_by_few_colours_and_measured_as_the_package_does(small_photo):
    from kpalette import ssimulacra2

    search = KSweep(small_photo)
    choice = choose_k(search, quality=(40, 60))
    assert choice.method == "quality" and 2 <= choice.k < 256
    score = ssimulacra2(small_photo, choice.result.to_array())
    assert score >= 60 and score == pytest.approx(choice.curve[choice.k]["ssimulacra2"])
    assert quantize(small_photo, choice.k).to_array().tolist() == choice.result.to_array().tolist()
    # One colour fewer scores under, as the search's quick fit measures it (a full fit
    # there may differ a little: K-means is not monotonic in k by law).
    assert search.ssimulacra2_estimate(choice.k - 1) < 60
    assert "SSIMULACRA2 60" in choice.reason


def test_quality_under_the_minimum_is_an_error_that_says_what_was_reached(small_photo):
    from kpalette import QualityTooLow

    with pytest.raises(QualityTooLow, match="SSIMULACRA2 99.5 is not reached") as caught:
        choose_k(small_photo, quality="99.5-100", max_k=8)
    assert caught.value.k == 8 and caught.value.best < 99.5
    # Between the minimum and the maximum: the most colours searched.
    choice = choose_k(small_photo, quality=(0, 99.9), max_k=8)
    assert choice.k == 8 and "the most searched" in choice.reason


def test_one_sweep_serves_many_threads(small_photo):
    import threading

    sweep = KSweep(small_photo, max_results=3)
    failures = []

    def work(offset):
        try:
            for k in range(2, 10):
                k = 2 + (k + offset) % 8
                assert sweep.result(k).n_colors <= k
                snapshot = sweep.curve  # a copy: others keep adding points
                assert all("inertia" in point for point in snapshot.values())
        except Exception as exc:  # noqa: BLE001 (reported below, from the main thread)
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(sweep.curve) == list(range(2, 10))
    assert len(sweep.results) <= 3


def test_quality_on_an_image_larger_than_the_sample_is_the_whole_image_s(tmp_path):
    """Over 0.5 MP the probes score a mosaic (which reads above the whole image);
    the k chosen reaches the target on the whole image, as the ``ssimulacra2``
    package scores the file, within a point and a half."""
    from ssimulacra2 import compute_ssimulacra2

    from conftest import shared_image
    from kpalette import load_image
    from kpalette.ssimulacra2 import SAMPLE_PIXELS

    image = load_image(shared_image("wood.jpg"))[:900, :1000]
    assert image.shape[0] * image.shape[1] > SAMPLE_PIXELS
    sweep = KSweep(image)
    choice = choose_k(sweep, quality=(0, 60))
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(image).save(a)
    Image.fromarray(choice.result.to_array()).save(b)
    score = compute_ssimulacra2(str(a), str(b))
    said = float(choice.reason.split("(")[1].split(";")[0].split(")")[0])
    assert score >= 59.8 and abs(said - score) < 0.3, (choice.reason, score)
    # Within a point and a half, or one colour fewer falls short (a step of k can
    # jump more at small k).
    assert score <= 61.5 or sweep.ssimulacra2(choice.k - 1) < 60, (choice.k, score)
