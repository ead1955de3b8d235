"""The pictures: what they show, checked from the figure objects."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from kpalette import KSweep, quantize
from kpalette.colorspace import rgb_to_lab
from kpalette.plot import cloud_points, color_cloud, compare, elbow, k_grid, swatches
from test_choose import blobs


def _rgb(strings) -> np.ndarray:
    return np.array([[int(v) for v in s[4:-1].split(",")] for s in strings])


def test_plotting_libraries_load_only_when_a_plot_is_made():
    code = (
        "import sys, kpalette.plot\n"
        "assert 'matplotlib' not in sys.modules and 'plotly' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_k_grid_has_one_panel_per_k_titled(small_photo):
    figure = k_grid(small_photo)
    panels = [axes for axes in figure.axes if axes.images]
    assert [axes.get_title(loc="left") for axes in panels] == [f"k={k}" for k in range(2, 11)]
    for axes, k in zip(panels, range(2, 11), strict=True):
        shown = axes.images[0].get_array()
        assert len(np.unique(np.asarray(shown).reshape(-1, 3), axis=0)) <= k
        assert "kB" in axes.get_title(loc="right") and "dB" in axes.get_title(loc="right")


def test_k_grid_reuses_one_histogram(small_photo, monkeypatch):
    import sys

    from kpalette import histogram

    calls = []
    original = histogram.image_histogram
    monkeypatch.setattr(
        sys.modules["kpalette.prepare"],
        "image_histogram",
        lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs),
    )
    k_grid(small_photo, ks=[2, 3, 4, 5])
    assert len(calls) == 1


def test_cloud_marker_colours_are_the_pixel_colours(small_photo):
    figure = color_cloud(small_photo, color_by="pixel", n_colors=4, space="rgb")
    dots = figure.data[0]
    xyz = np.column_stack([dots.x, dots.y, dots.z])
    np.testing.assert_array_equal(_rgb(dots.marker.color), xyz)
    # Every drawn colour occurs in the image, and all of them are drawn (few colours).
    distinct = np.unique(small_photo.reshape(-1, 3), axis=0)
    assert len(xyz) == len(distinct)
    centroids = figure.data[1]
    assert centroids.marker.size > dots.marker.size and len(centroids.x) == 4


def test_cloud_by_cluster_uses_the_centroid_colours(small_photo):
    result = quantize(small_photo, 3, tune="mse")  # nearest in RGB, as the cloud draws
    figure = color_cloud(small_photo, color_by="cluster", result=result)
    dots, centroids = figure.data
    xyz = np.column_stack([dots.x, dots.y, dots.z])
    d2 = ((xyz[:, None, :] - result.palette[None].astype(float)) ** 2).sum(axis=2)
    np.testing.assert_array_equal(_rgb(dots.marker.color), result.palette[d2.argmin(axis=1)])
    np.testing.assert_array_equal(_rgb(centroids.marker.color), result.palette)
    np.testing.assert_array_equal(
        np.column_stack([centroids.x, centroids.y, centroids.z]), result.palette
    )


def test_cloud_in_lab_axes(small_photo):
    figure = color_cloud(small_photo, space="lab", centroids=False)
    dots = figure.data[0]
    xyz = np.column_stack([dots.x, dots.y, dots.z])
    np.testing.assert_allclose(xyz, rgb_to_lab(_rgb(dots.marker.color)), atol=1e-9)
    assert figure.layout.scene.xaxis.title.text == "L*"


def test_large_images_are_a_weighted_sample(rng):
    image = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    image[:150] = [10, 20, 30]  # half the pixels: one colour
    colors, counts, n_distinct = cloud_points(image, max_points=5000)
    assert len(colors) == 5000 and n_distinct > 50_000
    assert [10, 20, 30] in colors.tolist()  # the heaviest colour is always drawn
    figure = color_cloud(image, max_points=5000, centroids=False)
    assert len(figure.data[0].x) == 5000


def test_elbow_marks_the_knee_of_a_known_number_of_blobs():
    sweep = KSweep(blobs(5, seed=5))
    figure = elbow(sweep, range(1, 13))
    assert "k=5" in figure.get_suptitle()
    for axes in figure.axes:
        marks = [line for line in axes.lines if line.get_linestyle() == "--"]
        assert len(marks) == 1 and list(marks[0].get_xdata()) == [5, 5]
    inertia = figure.axes[0].lines[0].get_ydata()
    assert list(figure.axes[0].lines[0].get_xdata()) == list(range(1, 13))
    assert inertia[3] / inertia[4] > 3 > inertia[4] / inertia[5]  # the bend is at 5
    assert figure.axes[2].get_ylabel() == "palette PNG (kB)"


def test_compare_titles_give_size_colours_and_psnr(small_photo):
    result = quantize(small_photo, 6)
    figure = compare(None, result)
    left, right = figure.axes
    assert "kB" in left.get_title() and "colours" in left.get_title()
    assert f"{result.png_bytes / 1000:,.1f} kB" in right.get_title()
    assert "6 colours" in right.get_title() and f"PSNR {result.psnr:.1f} dB" in right.get_title()


def test_swatches_label_each_colour_with_hex_and_share(small_photo):
    result = quantize(small_photo, 5)
    figure = swatches(result)
    texts = [text.get_text() for text in figure.axes[0].texts]
    expected = zip(result.hex, result.shares, strict=True)
    assert texts == [f"{code}\n{share:.1%}" for code, share in expected]
    faces = [patch.get_facecolor()[:3] for patch in figure.axes[0].patches]
    np.testing.assert_allclose(np.array(faces) * 255, result.palette, atol=1e-6)
    with pytest.raises(ValueError, match="expected a"):
        swatches(np.zeros((3, 2), np.uint8))


def test_pictures_with_alpha_are_shown_over_a_checkerboard():
    image = np.zeros((30, 40, 4), np.uint8)
    image[..., 0] = 200
    image[:, 20:, 3] = 255  # left half fully transparent
    figure = k_grid(image, ks=[2, 3])
    for axes in [axes for axes in figure.axes if axes.images]:
        board, picture = axes.images
        assert np.asarray(board.get_array()).shape[-1] == 3
        assert len(np.unique(np.asarray(board.get_array()))) == 2
        assert np.asarray(picture.get_array()).shape[-1] == 4
    labels = swatches(quantize(image, 2)).axes[0].texts
    assert {text.get_color() for text in labels} == {"black", "white"}


def test_a_missing_plot_library_names_the_extra(small_photo, monkeypatch):
    import importlib.util

    from kpalette import plot
    from kpalette.exceptions import MissingExtraError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "plotly" else real(name, *a)
    )
    with pytest.raises(MissingExtraError, match=r"pip install 'kpalette\[plot\]'"):
        plot.color_cloud(small_photo)
