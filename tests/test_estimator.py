"""KMeansQuantizer: scikit-learn's KMeans on every pixel is the oracle."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import data_image, shared_image
from kpalette import KMeansQuantizer, KPaletteWarning, load_image
from kpalette.colorspace import to_space
from kpalette.histogram import color_histogram


def _written_mse(image, palette, labels):
    return float(((palette[labels].astype(np.float64) - image) ** 2).mean())


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.parametrize("name", ["china.jpg", "coffee.png", "astronaut.png"])
def test_quality_matches_sklearn_on_all_pixels(name):
    from sklearn.cluster import KMeans

    image = load_image(shared_image(name))
    pixels = image.reshape(-1, 3)
    column_means = pixels.mean(axis=0)
    for k in (1, 3, 16, 64):
        ours = KMeansQuantizer(k, random_state=0).fit(image)
        our_mse = _written_mse(image, ours.palette_, ours.labels_)
        # The walkthrough's call, on every pixel; its centres rounded as ours are.
        oracle = KMeans(n_clusters=k, random_state=42).fit(pixels)
        oracle_palette = np.clip(np.rint(oracle.cluster_centers_), 0, 255)
        oracle_mse = _written_mse(pixels, oracle_palette, oracle.labels_)
        assert our_mse <= 1.01 * oracle_mse, (name, k, our_mse, oracle_mse)
        if k == 1:
            np.testing.assert_allclose(ours.cluster_centers_[0], column_means, atol=1e-6)
            np.testing.assert_allclose(oracle.cluster_centers_[0], column_means, atol=1e-6)


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "sizes"),
    [("china.jpg", ((16, 100), 200)), ("coffee.png", ((200, 100), 120))],
)
def test_quality_bar_against_sklearn_median_on_the_weighted_histogram(name, sizes):
    """At most 1.005x the median of KMeans over random_state 0..4."""
    from sklearn.cluster import KMeans

    (top, left), side = sizes
    image = load_image(shared_image(name))[top : top + side, left : left + int(1.5 * side)]
    hist = color_histogram(image.reshape(-1, 3))
    points, weights = hist.colors.astype(np.float64), hist.counts.astype(np.float64)
    for k in (8, 32):
        oracle = [
            KMeans(n_clusters=k, random_state=seed).fit(points, sample_weight=weights).inertia_
            for seed in range(5)
        ]
        ours = KMeansQuantizer(k, random_state=0).fit(image)
        # Unrounded centres on both sides: the clustering itself is compared.
        assert ours.inertia_ <= 1.005 * np.median(oracle), (name, k, ours.inertia_, oracle)


def _translucent_photo(rng):
    """china.jpg crop under an alpha ramp, with a band of nearly transparent noise."""
    image = load_image(shared_image("china.jpg"))[200:260, 250:340]
    alpha = np.tile(np.linspace(0, 255, image.shape[1]).astype(np.uint8), (len(image), 1))
    rgba = np.dstack([image, alpha])
    # Hidden colours of nearly transparent pixels: random, invisible over any background.
    rgba[:12, :, :3] = rng.integers(0, 256, (12, image.shape[1], 3), dtype=np.uint8)
    rgba[:12, :, 3] = rng.integers(0, 4, (12, image.shape[1]), dtype=np.uint8)
    return rgba


@pytest.mark.parametrize("k", [8, 32])
def test_translucent_quality_against_sklearn_on_premultiplied_colours(rng, k):
    """The same with alpha: the objective is the premultiplied squared error that the
    metrics report; scikit-learn clusters the same weighted premultiplied colours."""
    from sklearn.cluster import KMeans

    from kpalette.colorspace import premultiply

    rgba = _translucent_photo(rng)
    points, weights = np.unique(premultiply(rgba.reshape(-1, 4)), axis=0, return_counts=True)
    weights = weights.astype(np.float64)
    # Ours holds one of its k centres at transparent (0, 0, 0, 0). The same problem
    # for scikit-learn: the origin's weight so large that a centre stays on it.
    origin = (points == 0).all(axis=1)
    assert origin.any()
    held = np.where(origin, 1e6 * weights.sum(), weights)
    free, constrained = [], []
    for seed in range(5):
        free.append(KMeans(n_clusters=k, random_state=seed).fit(points, sample_weight=weights))
        fit = KMeans(n_clusters=k, random_state=seed).fit(points, sample_weight=held)
        assert (np.abs(fit.cluster_centers_).sum(axis=1) < 1e-3).any()  # one held at 0
        nearest = ((points[:, None] - fit.cluster_centers_[None]) ** 2).sum(axis=2).min(axis=1)
        constrained.append(float(weights @ nearest))
    ours = KMeansQuantizer(k, random_state=0).fit(rgba)
    assert ours.inertia_ <= 1.005 * np.median(constrained), (k, ours.inertia_, constrained)
    # Holding the transparent entry costs little against k free centres.
    free_inertia = np.median([fit.inertia_ for fit in free])
    assert ours.inertia_ <= 1.02 * free_inertia, (k, ours.inertia_, free_inertia)
    # The inertia is the scored error: the metrics' MSE of the written pixels.
    written = ours.palette_[ours.labels_]
    from kpalette.metrics import mean_squared_error

    rounded_error = mean_squared_error(rgba, written) * rgba[..., 0].size * 4
    assert rounded_error <= 1.01 * ours.inertia_ + 0.25 * rgba[..., 0].size


def test_same_seed_same_result_and_fit_predict(small_photo):
    a = KMeansQuantizer(12, random_state=7).fit(small_photo)
    b = KMeansQuantizer(12, random_state=7).fit(small_photo)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    np.testing.assert_array_equal(a.predict(small_photo), a.labels_)
    np.testing.assert_array_equal(
        KMeansQuantizer(12, random_state=7).fit_predict(small_photo), a.labels_
    )
    assert a.labels_.shape == small_photo.shape[:2]
    assert a.n_iter_ >= 1 and a.inertia_ > 0


def test_random_states_give_reproducible_draws(small_photo):
    import random

    from kpalette.kmeans import random_source

    # An int seeds the standard library's Mersenne Twister: the same draws as
    # random.Random(seed).random(), in order, whatever the shape asked for.
    twister = random.Random(3)
    expected = [twister.random() for _ in range(6)]
    np.testing.assert_array_equal(random_source(3).random((2, 3)).ravel(), expected)
    assert random_source(np.int64(3)).random(4).tolist() == expected[:4]
    # A NumPy Generator is drawn from itself, and so the fit follows it.
    generator = np.random.default_rng(5)
    assert random_source(generator) is generator
    from_generator = [
        KMeansQuantizer(12, random_state=np.random.default_rng(5)).fit(small_photo)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*[q.cluster_centers_ for q in from_generator])
    assert random_source(None).random(3).shape == (3,)
    with pytest.raises(ValueError, match="random_state must be a whole number >= 0, got -1"):
        KMeansQuantizer(4, random_state=-1).fit(small_photo)


@pytest.mark.parametrize("translucent", [False, True])
def test_a_fit_sorting_its_colours_in_place_gives_the_same_model(monkeypatch, translucent):
    from kpalette import fit

    photo = load_image(data_image("astronaut-crop.png"))
    if translucent:  # an alpha ramp, with some fully transparent pixels
        alpha = np.linspace(0, 255, photo.shape[1]).astype(np.uint8)
        photo = np.dstack([photo, np.broadcast_to(alpha, photo.shape[:2])])
    from kpalette import kmeans

    built, real_tree = [], kmeans.PointTree

    def recording_tree(*args, **kwargs):
        built.append(kwargs.get("in_place", False))
        return real_tree(*args, **kwargs)

    monkeypatch.setattr(kmeans, "PointTree", recording_tree)
    models = []
    for threshold in (fit.SORT_IN_PLACE_FROM, 1):
        monkeypatch.setattr(fit, "SORT_IN_PLACE_FROM", threshold)
        models.append(KMeansQuantizer(6, random_state=2).fit(photo))
    assert built == [False, False, False, True]  # coarse grid, then full histogram; twice
    copied, in_place = models
    np.testing.assert_array_equal(copied.palette_, in_place.palette_)
    np.testing.assert_array_equal(copied.labels_, in_place.labels_)
    np.testing.assert_array_equal(copied.fit_.labels, in_place.fit_.labels)
    assert copied.inertia_ == in_place.inertia_


def test_attributes_describe_the_fit(small_photo):
    q = KMeansQuantizer(6, random_state=0).fit(small_photo.reshape(-1, 3))
    assert q.cluster_centers_.shape == (6, 3) and q.cluster_centers_.dtype == np.float64
    assert q.labels_.shape == (small_photo.shape[0] * small_photo.shape[1],)
    assert q.counts_.sum() == q.labels_.size
    pixels = small_photo.reshape(-1, 3).astype(np.float64)
    inertia = ((pixels - q.cluster_centers_[q.labels_]) ** 2).sum()
    assert q.inertia_ == pytest.approx(inertia, rel=1e-9)
    # Labels point at the nearest palette colour.
    d2 = ((pixels[:, None, :] - q.palette_[None].astype(np.float64)) ** 2).sum(axis=2)
    np.testing.assert_array_equal(d2[np.arange(len(pixels)), q.labels_], d2.min(axis=1))


def test_more_colours_than_distinct_gives_them_exactly():
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    image = colours[np.arange(30) % 3].reshape(5, 6, 3)
    with pytest.warns(KPaletteWarning, match="3 distinct colours, fewer than k=5"):
        q = KMeansQuantizer(5).fit(image)
    assert sorted(map(tuple, q.palette_.tolist())) == sorted(map(tuple, colours.tolist()))
    np.testing.assert_array_equal(q.palette_[q.labels_], image)
    assert q.inertia_ == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeansQuantizer(3).fit(image)  # exactly as many: no warning


def test_transparent_pixels_do_not_pull_the_clusters(small_photo):
    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:, :40] = [255, 0, 255, 0]  # half the image: invisible magenta
    q = KMeansQuantizer(5, random_state=0).fit(rgba)
    reserved = q.labels_[0, 0]
    assert (q.labels_[:, :40] == reserved).all()
    assert tuple(q.palette_[reserved]) == (0, 0, 0, 0)
    visible = [i for i in range(len(q.palette_)) if i != reserved]
    assert len(visible) == 4 and (q.palette_[visible, 3] == 255).all()
    # The visible colours are what an RGB fit of the visible part gives.
    rgb = KMeansQuantizer(4, random_state=0).fit(small_photo[:, 40:])
    np.testing.assert_allclose(
        np.sort(q.cluster_centers_[visible, :3], axis=0), np.sort(rgb.cluster_centers_, axis=0)
    )
    np.testing.assert_array_equal(q.predict(rgba), q.labels_)


def test_translucent_pixels_are_clustered_with_their_alpha():
    image = np.zeros((20, 20, 4), dtype=np.uint8)
    image[:10] = [200, 10, 10, 255]
    image[10:] = [200, 10, 10, 60]
    q = KMeansQuantizer(2, random_state=0).fit(image)
    assert sorted(q.palette_[:, 3].tolist()) == [60, 255]


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((4, 5)), r"got an array of shape \(4, 5\)"),
        (np.zeros((0, 3), dtype=np.uint8), "at least one pixel"),
        (np.full((4, 3), 300.0), "got values from 300 to 300"),
        (np.full((4, 3), np.nan), "finite"),
    ],
)
def test_bad_arrays_are_refused(X, message):
    with pytest.raises(ValueError, match=message):
        KMeansQuantizer(2).fit(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_colors": 0}, "n_colors must be a whole number >= 1, got 0"),
        ({"n_colors": 2.5}, "got 2.5"),
        ({"n_init": 0}, "n_init must be 'auto' or a whole number >= 1, got 0"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1}, "tol"),
        ({"color_space": "hsv"}, "color_space must be one of rgb, lab, oklab, got 'hsv'"),
    ],
)
def test_bad_parameters_are_refused(small_photo, params, message):
    params = {"n_colors": 4} | params
    n_colors = params.pop("n_colors")
    with pytest.raises(ValueError, match=message):
        KMeansQuantizer(n_colors, **params).fit(small_photo)


def test_float_images_in_unit_range_are_scaled(small_photo):
    as_float = small_photo.astype(np.float32) / 255.0
    a = KMeansQuantizer(4, random_state=0).fit(as_float)
    b = KMeansQuantizer(4, random_state=0).fit(small_photo)
    np.testing.assert_array_equal(a.palette_, b.palette_)


def test_predict_before_fit_is_an_error(small_photo):
    with pytest.raises(AttributeError, match="not fitted"):
        KMeansQuantizer(3).predict(small_photo)


@pytest.mark.shared
def test_large_k_on_few_distinct_colours_is_as_good_as_sklearn():
    # Regression: with a coarse grid of few cells per centre the starts were up to 29%
    # worse at k = 256 on photos with few distinct colours; now the grid must be fine.
    from sklearn.cluster import KMeans

    image = load_image(shared_image("hubble_deep_field.jpg"))[::2, ::2]
    hist = color_histogram(image.reshape(-1, 3))
    colors, counts = hist.colors.astype(np.float64), hist.counts.astype(np.float64)
    k = 256
    ours = KMeansQuantizer(k, random_state=0).fit(image)
    our_mse = _written_mse(image, ours.palette_, ours.labels_)
    oracle = []
    for seed in range(3):
        model = KMeans(n_clusters=k, random_state=seed).fit(colors, sample_weight=counts)
        palette = np.clip(np.rint(model.cluster_centers_), 0, 255)
        diff = colors - palette[model.labels_]
        oracle.append(float(counts @ (diff * diff).sum(axis=1)) / (counts.sum() * 3))
    assert our_mse <= 1.005 * float(np.median(oracle)), (our_mse, oracle)


@pytest.mark.shared
def test_starts_are_ranked_on_a_grid_fine_enough_to_rank_them():
    # Regression: ranked on a 32-cell grid, the four starts refined for this photo and
    # seed ended 0.6-1.0% above scikit-learn's median (1.0081x in all); others reached it.
    from sklearn.cluster import KMeans

    image = load_image(shared_image("hubble_deep_field.jpg"))
    hist = color_histogram(image.reshape(-1, 3))
    colors, counts = hist.colors.astype(np.float64), hist.counts.astype(np.float64)
    oracle = [
        KMeans(n_clusters=16, random_state=seed).fit(colors, sample_weight=counts).inertia_
        for seed in range(5)
    ]
    ours = KMeansQuantizer(16, random_state=5).fit(image)
    assert ours.inertia_ <= 1.005 * np.median(oracle), (ours.inertia_, oracle)


@pytest.mark.parametrize("color_space", ["lab", "oklab"])
def test_perceptual_spaces_fit_in_that_space(small_photo, color_space):
    q = KMeansQuantizer(6, random_state=0, color_space=color_space).fit(small_photo)
    assert repr(q) == f"KMeansQuantizer(n_colors=6, random_state=0, color_space='{color_space}')"
    points = to_space(small_photo.reshape(-1, 3), color_space)
    # Inertia is measured in the clustering space, against the centres.
    labels = q.labels_.ravel()
    inertia = ((points - q.cluster_centers_[labels]) ** 2).sum()
    assert q.inertia_ == pytest.approx(inertia, rel=1e-9)
    # Every pixel takes the palette colour nearest to it in that space.
    palette = to_space(q.palette_, color_space)
    d2 = ((points[:, None, :] - palette[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(d2[np.arange(len(points)), labels], d2.min(axis=1))
    np.testing.assert_array_equal(q.predict(small_photo), q.labels_)
    # The palette is the centres taken back to sRGB.
    assert np.abs(to_space(q.palette_, color_space) - q.cluster_centers_).max() < (
        1.0 if color_space == "lab" else 0.01
    )


def test_perceptual_space_with_transparency(small_photo):
    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:10] = [0, 255, 0, 0]
    q = KMeansQuantizer(5, random_state=0, color_space="oklab").fit(rgba)
    assert tuple(q.palette_[q.labels_[0, 0]]) == (0, 0, 0, 0)
    assert (q.palette_[q.labels_[10:]][..., 3] == 255).all()


# --------------------------------------------------------------------------- KMeans
from kpalette import ConvergenceWarning, KMeans  # noqa: E402

#: scikit-learn checks that KMeans is not expected to pass, and why: none.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def _sklearn_checks():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    return parametrize_with_checks(
        [KMeans()], expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS
    )


@_sklearn_checks()
def test_scikit_learns_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _sklearn_median_inertia(X, k, sample_weight=None):
    from sklearn.cluster import KMeans as SklearnKMeans

    return float(
        np.median(
            [
                SklearnKMeans(k, random_state=seed).fit(X, sample_weight=sample_weight).inertia_
                for seed in range(5)
            ]
        )
    )


def _blobs(rng, n=600, centres=4, d=2):
    means = np.arange(centres)[:, None] * 12.0 + rng.uniform(-2, 2, (centres, d))
    truth = rng.integers(0, centres, n)
    return means[truth] + rng.normal(0, 1.0, (n, d)), truth


@pytest.mark.parametrize("d", [1, 2, 5, 12])
def test_blobs_are_found_as_scikit_learn_finds_them(rng, d):
    from sklearn.metrics import adjusted_rand_score

    X, truth = _blobs(rng, d=d)
    model = KMeans(4, random_state=0).fit(X)
    assert adjusted_rand_score(truth, model.labels_) > 0.99
    assert model.labels_.dtype == np.int32 and model.labels_.shape == (len(X),)
    assert model.cluster_centers_.dtype == np.float64 and model.cluster_centers_.shape == (4, d)
    assert model.inertia_ <= 1.005 * _sklearn_median_inertia(X, 4)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert model.n_features_in_ == d and model.n_iter_ >= 1


@pytest.mark.parametrize("k", [2, 7, 20])
def test_all_rows_distinct_and_high_dimensions(rng, k):
    for d in (3, 9):  # 9 columns: past the grid tree, on the NumPy path
        X = rng.normal(size=(400, d))
        model = KMeans(k, random_state=1).fit(X)
        assert model.inertia_ <= 1.005 * _sklearn_median_inertia(X, k)
        d2 = ((X[:, None] - model.cluster_centers_[None]) ** 2).sum(axis=2)
        np.testing.assert_array_equal(model.labels_, d2.argmin(axis=1))
        assert model.inertia_ == pytest.approx(d2.min(axis=1).sum(), rel=1e-9)


@pytest.mark.parametrize("k", [1, 3, 16, 64])
def test_photo_pixels_against_scikit_learn(k):
    X = load_image(data_image("chelsea-crop.png"))[::2, ::2].reshape(-1, 3)
    model = KMeans(k, random_state=42).fit(X)
    assert model.inertia_ <= 1.005 * _sklearn_median_inertia(X, k)
    assert np.unique(model.labels_).size == k


def test_one_cluster_is_exactly_the_column_means(small_photo):
    X = small_photo.reshape(-1, 3)
    model = KMeans(1, random_state=42).fit(X)
    np.testing.assert_array_equal(model.cluster_centers_[0], X.mean(axis=0))
    weights = np.arange(len(X)) % 3 + 1.0
    weighted = KMeans(1).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(weighted.cluster_centers_[0], np.average(X, 0, weights))


def test_floats_in_unit_range_give_centres_in_unit_range(small_photo):
    X = small_photo.reshape(-1, 3)
    as_float = np.divide(X, 255, dtype=np.float32)  # as matplotlib's imread gives PNGs
    a = KMeans(6, random_state=3).fit(as_float)
    b = KMeans(6, random_state=3).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_ / 255, rtol=1e-12)
    assert a.inertia_ == pytest.approx(b.inertia_ / 255**2, rel=1e-9)
    assert a.cluster_centers_.min() >= 0 and a.cluster_centers_.max() <= 1


def test_weights_are_repeated_rows(rng):
    X = rng.integers(0, 5, (300, 2)).astype(float) + rng.normal(0, 0.01, (300, 2)).round(1)
    weights = rng.integers(1, 4, len(X))
    weighted = KMeans(5, random_state=7).fit(X, sample_weight=weights)
    repeated = KMeans(5, random_state=7).fit(np.repeat(X, weights, axis=0))
    np.testing.assert_array_equal(weighted.cluster_centers_, repeated.cluster_centers_)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-12)
    assert weighted.inertia_ <= 1.005 * _sklearn_median_inertia(X, 5, weights)


def test_same_seed_same_result_and_the_estimator_contract(small_photo):
    from sklearn.base import clone

    X = small_photo.reshape(-1, 3)
    a, b = KMeans(8, random_state=5).fit(X), KMeans(8, random_state=5).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    model = KMeans(n_clusters=3, random_state=42)
    assert model.fit(X) is model
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "labels_")
    assert model.set_params(n_clusters=4).n_clusters == 4
    np.testing.assert_array_equal(KMeans(4, random_state=42).fit_predict(X), model.fit(X).labels_)
    distances = model.transform(X)
    assert distances.shape == (len(X), 4)
    np.testing.assert_array_equal(distances.argmin(axis=1), model.labels_)
    assert model.score(X) == pytest.approx(-model.inertia_)
    assert repr(KMeans(3, random_state=0)) == "KMeans(n_clusters=3, random_state=0)"


def test_given_random_and_callable_starts(rng):
    X, _ = _blobs(rng)
    start = X[:4].copy()
    given = KMeans(4, init=start, n_init=1).fit(X)
    called = KMeans(4, init=lambda data, k, seed: data[:k]).fit(X)
    np.testing.assert_array_equal(given.cluster_centers_, called.cluster_centers_)
    randomly = KMeans(4, init="random", random_state=0).fit(X)
    assert randomly.inertia_ <= 1.005 * _sklearn_median_inertia(X, 4)
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        KMeans(4, init=start, n_init=3).fit(X)
    with pytest.raises(ValueError, match=r"shape of the initial centers \(3, 2\) does not match"):
        KMeans(4, init=start[:3]).fit(X)


def test_quantizer_follows_the_estimator_contract(small_photo):
    from sklearn.base import clone

    model = KMeansQuantizer(5, random_state=1, color_space="lab")
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert model.set_params(n_colors=6).n_colors == 6
    with pytest.raises(ValueError, match="invalid parameter 'n_clusters'"):
        model.set_params(n_clusters=3)


@pytest.mark.parametrize(
    ("X", "params", "error", "message"),
    [
        (np.zeros((3, 2)), {"n_clusters": 8}, ValueError, "n_samples=3 should be >= n_clusters=8"),
        (
            np.zeros((5, 2)),
            {"n_clusters": 0},
            ValueError,
            "n_clusters must be an integer >= 1, got 0",
        ),
        (np.arange(6.0), {}, ValueError, "Expected 2D array, got 1D array of shape"),
        (np.array([["a", "b"]] * 9), {}, ValueError, "expected numbers, got an array of dtype <U1"),
        (np.zeros((0, 3)), {}, ValueError, r"Found array with 0 sample\(s\)"),
        (np.array([[1.0, np.nan]] * 9), {}, ValueError, "Input contains NaN or infinity"),
        (np.array([[1.0, np.inf]] * 9), {}, ValueError, "Input contains NaN or infinity"),
        (
            np.zeros((9, 2)),
            {"init": "kmeans"},
            ValueError,
            r"init must be 'k-means\+\+', 'random', a callable or an array, got 'kmeans'",
        ),
    ],
)
def test_bad_input_is_refused_as_scikit_learn_refuses_it(X, params, error, message):
    with pytest.raises(error, match=message):
        KMeans(**params).fit(X)


def test_fewer_distinct_rows_than_clusters_warns_and_gives_every_centre():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(3\) found smaller than"):
        model = KMeans(4, random_state=0).fit(X)
    assert model.cluster_centers_.shape == (4, 2)
    assert {tuple(c) for c in model.cluster_centers_} == {(0, 0), (1, 1), (5, 5)}
    assert model.inertia_ == 0


def test_a_few_distinct_rows_repeated_many_times(rng):
    rows = rng.normal(0, 10, (6, 3))
    X = rows[rng.integers(0, 6, 5000)]
    model = KMeans(3, random_state=0).fit(X)
    assert model.inertia_ <= 1.005 * _sklearn_median_inertia(X, 3)
    assert len(np.unique(model.predict(rows))) == 3


def test_not_fitted_is_kpalettes_error_and_scikit_learns_once_it_is_imported():
    import sys

    from kpalette.exceptions import NotFittedError, not_fitted

    sklearn_exceptions = pytest.importorskip("sklearn.exceptions")
    error = not_fitted("not yet")
    assert isinstance(error, NotFittedError) and isinstance(
        error, sklearn_exceptions.NotFittedError
    )
    assert isinstance(error, ValueError) and isinstance(error, AttributeError)
    with pytest.raises(sklearn_exceptions.NotFittedError):
        KMeans(n_clusters=2).predict(np.zeros((3, 2)))
    saved = sys.modules.pop("sklearn.exceptions")
    try:  # without scikit-learn in the process: kpalette's own class, nothing imported
        plain = not_fitted("not yet")
        assert type(plain) is NotFittedError and "sklearn.exceptions" not in sys.modules
    finally:
        sys.modules["sklearn.exceptions"] = saved
