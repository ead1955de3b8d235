"""fit_histogram: the one way into clustering, checked against brute force and the estimator."""

from __future__ import annotations

import numpy as np
import pytest

from kpalette import KMeansQuantizer, KPaletteWarning, Options, fit_histogram, image_histogram
from kpalette.colorspace import premultiply


def _pixels(image):
    return image.reshape(-1, image.shape[-1])


@pytest.mark.parametrize("color_space", ["rgb", "lab"])
def test_the_fit_is_the_estimators(small_photo, color_space):
    fit = fit_histogram(
        image_histogram(_pixels(small_photo)),
        Options(k=6, seed=2, color_space=color_space, tune="mse"),
    )
    model = KMeansQuantizer(6, random_state=2, color_space=color_space).fit(small_photo)
    np.testing.assert_array_equal(fit.palette, model.palette_)
    assert fit.inertia == model.inertia_ and fit.n_iter == model.n_iter_ >= 1


def test_labels_are_the_nearest_rounded_entries_and_inertia_is_the_objective(small_photo):
    histogram = image_histogram(_pixels(small_photo))
    fit = fit_histogram(histogram, Options(k=9, seed=0, tune="mse"))
    colors = histogram.colors.astype(np.float64)
    d2 = ((colors[:, None] - fit.palette[None].astype(np.float64)) ** 2).sum(axis=2)
    np.testing.assert_array_equal(d2[np.arange(len(colors)), fit.labels], d2.min(axis=1))
    to_centre = ((colors - fit.centers[fit.labels]) ** 2).sum(axis=1)
    assert fit.inertia == pytest.approx(float((histogram.counts * to_centre).sum()), rel=1e-12)
    # Every pixel's entry, spread back from the distinct colours.
    pixels = _pixels(small_photo)
    per_pixel = ((pixels[:, None].astype(float) - fit.palette[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(
        per_pixel[np.arange(len(pixels)), fit.pixel_labels(pixels)], per_pixel.min(axis=1)
    )


def test_one_colour_is_the_column_means(small_photo):
    fit = fit_histogram(image_histogram(_pixels(small_photo)), Options(k=1, tune="mse"))
    np.testing.assert_allclose(fit.centers[0], _pixels(small_photo).mean(axis=0), rtol=1e-12)


def test_transparent_pixels_get_an_entry_of_their_own(small_photo):
    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:, :30] = [9, 200, 9, 0]
    histogram = image_histogram(_pixels(rgba))
    assert histogram.n_transparent == 60 * 30 and histogram.colors.shape[1] == 3
    fit = fit_histogram(histogram, Options(k=4, seed=1))
    assert fit.transparent_label == 3 and tuple(fit.palette[3]) == (0, 0, 0, 0)
    colors, counts, entries = fit.color_table()
    assert counts.sum() == rgba.shape[0] * rgba.shape[1] and colors.shape[1] == 4
    assert fit.entry_counts()[3] == 60 * 30
    labels = fit.pixel_labels(_pixels(rgba)).reshape(rgba.shape[:2])
    assert (labels[:, :30] == 3).all() and (labels[:, 30:] != 3).all()


def test_one_colour_over_transparent_pixels_is_their_premultiplied_mean(small_photo):
    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:, :20] = [255, 0, 255, 0]  # hidden magenta: counts as (0, 0, 0, 0)
    fit = fit_histogram(image_histogram(_pixels(rgba)), Options(k=1, tune="mse"))
    expected = premultiply(_pixels(rgba)).mean(axis=0)
    np.testing.assert_allclose(fit.centers[0], expected, rtol=1e-12)
    assert (fit.pixel_labels(_pixels(rgba)) == 0).all()


def test_fewer_distinct_colours_than_k_gives_them_with_a_warning():
    pixels = np.array([[1, 2, 3], [4, 5, 6], [1, 2, 3]], np.uint8)
    with pytest.warns(KPaletteWarning, match="2 distinct colours, fewer than k=5"):
        fit = fit_histogram(image_histogram(pixels), Options(k=5))
    assert sorted(map(tuple, fit.palette.tolist())) == [(1, 2, 3), (4, 5, 6)]
    assert fit.inertia == 0 and fit.n_iter == 0


def test_a_choice_of_k_must_be_made_first(small_photo):
    with pytest.raises(ValueError, match="choose it with choose_k"):
        fit_histogram(image_histogram(_pixels(small_photo)), Options(k="auto"))
    with pytest.raises(TypeError, match="options must be an Options, got int"):
        fit_histogram(image_histogram(_pixels(small_photo)), 5)


def test_a_fit_that_would_not_fit_in_memory_is_refused_before_it_starts(rng, monkeypatch):
    from kpalette import fit

    pixels = rng.integers(0, 256, (20_000, 3), dtype=np.uint8)
    monkeypatch.setattr(fit, "available_memory", lambda: 50_000_000)
    with pytest.raises(MemoryError, match=r"k=19000 on .* distinct colours needs about .* GB"):
        fit_histogram(image_histogram(pixels), Options(k=19_000))
    assert fit.fit_bytes(10_000, 3, 20_000) < 200e6  # linear in k: no k x k table


def test_many_colours_fit_past_the_centre_table(rng):
    pixels = rng.integers(0, 256, (12_000, 3), dtype=np.uint8)
    histogram = image_histogram(pixels)
    result = fit_histogram(histogram, Options(k=5000, n_init=1, max_iter=3, tune="mse"))
    colors = histogram.colors.astype(np.float64)
    palette = result.palette.astype(np.float64)
    chosen = ((colors - palette[result.labels]) ** 2).sum(axis=1)
    nearest = np.array([((palette - c) ** 2).sum(axis=1).min() for c in colors[:500]])
    np.testing.assert_array_equal(chosen[:500], nearest)


@pytest.mark.parametrize("color_space", ["rgb", "oklab"])
def test_prepared_points_shared_by_many_fits_change_nothing(color_space):
    from concurrent.futures import ThreadPoolExecutor

    from conftest import data_image
    from kpalette import load_image
    from kpalette.fit import prepare_points

    histogram = image_histogram(_pixels(load_image(data_image("hubble-crop.png"))))
    prepared = prepare_points(histogram, color_space)
    ks = [1, 2, 5, 16, 17, 40, 64, 100, 129, 256]

    def both(k):
        options = Options(k=k, seed=k, color_space=color_space)
        return fit_histogram(histogram, options), fit_histogram(
            histogram, options, prepared=prepared
        )

    with ThreadPoolExecutor(4) as pool:  # threads may share one
        pairs = list(pool.map(both, ks))
    for (alone, shared), k in zip(pairs, ks, strict=True):
        np.testing.assert_array_equal(alone.palette, shared.palette, err_msg=f"k={k}")
        np.testing.assert_array_equal(alone.labels, shared.labels)
        assert (alone.inertia, alone.n_iter) == (shared.inertia, shared.n_iter)


def test_prepared_points_of_other_colours_are_refused(small_photo):
    from kpalette.fit import prepare_points

    histogram = image_histogram(_pixels(small_photo))
    other = image_histogram(_pixels(small_photo[::2]))
    with pytest.raises(ValueError, match="prepared holds other colours"):
        fit_histogram(histogram, Options(k=4), prepared=prepare_points(other, "rgb"))
    with pytest.raises(ValueError, match="prepared holds other colours"):
        fit_histogram(
            histogram, Options(k=4, color_space="lab"), prepared=prepare_points(histogram, "rgb")
        )


def test_prepared_points_with_transparent_pixels_at_k_1_and_k_3(rng):
    from kpalette.fit import prepare_points

    pixels = rng.integers(0, 256, (500, 4), dtype=np.uint8)
    pixels[:100, 3] = 0
    histogram = image_histogram(pixels)
    prepared = prepare_points(histogram, "rgb")
    for k in (1, 3):
        alone = fit_histogram(histogram, Options(k=k, tune="mse"))
        shared = fit_histogram(histogram, Options(k=k, tune="mse"), prepared=prepared)
        np.testing.assert_array_equal(alone.palette, shared.palette)
        assert alone.inertia == shared.inertia


def test_no_prepared_points_for_histograms_whose_fits_sort_in_place(small_photo, monkeypatch):
    from kpalette import KSweep, fit
    from kpalette.fit import prepare_points

    histogram = image_histogram(_pixels(small_photo))
    monkeypatch.setattr(fit, "SORT_IN_PLACE_FROM", histogram.n_colors)
    assert prepare_points(histogram, "rgb") is None
    sweep = KSweep(small_photo)
    for k in (3, 20):
        alone = fit_histogram(histogram, Options(k=k))
        np.testing.assert_array_equal(sweep.fit(k).palette, alone.palette)
