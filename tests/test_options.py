"""Options: one validated set of settings for every entry point."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kpalette import OptionError, Options, quantize
from kpalette.options import DEFAULT_K


def test_defaults_and_normalised_values():
    options = Options()
    assert options.n_colors == DEFAULT_K and options.choice is None
    assert Options(dither=True).dither == 1.0 and Options(dither=False).dither == 0.0
    assert Options(k=np.int64(5)).n_colors == 5
    assert Options(seed=np.random.default_rng(1)).seed is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.k = 3


@pytest.mark.parametrize(
    ("fields", "choice"),
    [
        ({"k": "auto"}, "auto"),
        ({"target_psnr": 30}, "target_psnr"),
        ({"max_bytes": 9000}, "max_bytes"),
    ],
)
def test_a_way_of_choosing_k(fields, choice):
    options = Options(**fields)
    assert options.choice == choice
    with pytest.raises(ValueError, match="choose it with choose_k"):
        options.n_colors  # noqa: B018
    assert options.replace(k=12).choice is None and options.replace(k=12).n_colors == 12


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"k": 0}, "k must be a whole number >= 1, got 0"),
        ({"k": 2.5}, "got 2.5"),
        ({"k": "many"}, "got 'many'"),
        ({"k": 4, "target_psnr": 30}, "got k=4 and target_psnr"),
        ({"target_psnr": 30, "max_bytes": 10}, "got target_psnr and max_bytes"),
        ({"target_psnr": -1}, "target_psnr must be a positive number of dB, got -1"),
        ({"target_psnr": float("inf")}, "got inf"),
        ({"max_bytes": 0}, "max_bytes must be a whole number >= 1, got 0"),
        ({"color_space": "hsv"}, "color_space must be one of rgb, lab, oklab, got 'hsv'"),
        ({"dither": 1.5}, "dither must be a strength in 0..1 or a bool, got 1.5"),
        ({"dither": "yes"}, "got 'yes'"),
        ({"k": 2000, "dither": 1}, "dithering takes at most 1024 colours, got k=2000"),
        ({"seed": -1}, "seed must be a whole number >= 0, got -1"),
        ({"seed": 1.5}, "seed must be a whole number, None or a Generator, got 1.5"),
        ({"n_init": 0}, "n_init must be 'auto' or a whole number >= 1, got 0"),
        ({"max_iter": 0}, "max_iter must be a whole number >= 1, got 0"),
        ({"tol": -1e-3}, "tol must be a number >= 0, got -0.001"),
        ({"alpha_threshold": 0}, "alpha_threshold must be a whole number in 1..255, got 0"),
        ({"max_pixels": 0}, "max_pixels must be a whole number >= 1, got 0"),
        ({"max_expansion": 0}, "max_expansion must be a number > 0 or None, got 0"),
        ({"max_expansion": "big"}, "max_expansion must be a number > 0 or None, got 'big'"),
    ],
)
def test_bad_values_are_refused_with_what_was_received(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Options(**fields)


def test_a_range_error_carries_the_field_what_it_takes_and_what_it_got():
    # The command line and the web page word it with their own option names from these.
    with pytest.raises(OptionError) as caught:
        Options(max_expansion=-2)
    error = caught.value
    assert (error.field, error.requirement, error.value) == ("max_expansion", "a number > 0", -2)
    assert str(error) == "max_expansion must be a number > 0 or None, got -2"
    assert isinstance(error, ValueError)


def test_of_applies_changes_and_refuses_unknown_names():
    base = Options(k=8, color_space="lab")
    assert Options.of(base) is base
    changed = Options.of(base, seed=3)
    assert (changed.k, changed.color_space, changed.seed) == (8, "lab", 3)
    with pytest.raises(TypeError, match="unknown option: random_state"):
        Options.of(base, random_state=3)
    with pytest.raises(TypeError, match="options must be an Options, got dict"):
        Options.of({"k": 3})


def test_quantize_takes_options_or_keywords_alike(small_photo):
    a = quantize(small_photo, options=Options(k=6, color_space="oklab", seed=4))
    b = quantize(small_photo, 6, color_space="oklab", seed=4)
    np.testing.assert_array_equal(a.palette, b.palette)
    assert a.options == b.options and a.color_space == "oklab"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("60-80", (60.0, 80.0)), ("70", (0.0, 70.0)), (70, (0.0, 70.0)), ((5, 5.5), (5.0, 5.5))],
)
def test_quality_is_a_range_on_the_ssimulacra2_scale(given, expected):
    options = Options(quality=given)
    assert options.quality == expected and options.choice == "quality"
    assert options.replace(k=8).quality is None  # a number of colours clears it


@pytest.mark.parametrize("bad", ["80-60", "x", "1-2-3", 101, -1, True, (1,), "60-"])
def test_bad_qualities_are_refused_with_what_was_received(bad):
    with pytest.raises(ValueError, match="quality must be MIN-MAX"):
        Options(quality=bad)


def test_the_tune_chooses_the_colour_space_unless_one_is_set():
    assert Options().tune == "eye" and Options().color_space == "oklab"
    assert Options().run_tolerance > 0
    mse = Options(tune="mse")
    assert mse.color_space == "rgb" and mse.run_tolerance == 0
    assert Options().replace(tune="mse").color_space == "rgb"
    assert Options(color_space="lab").replace(tune="mse").color_space == "lab"
    assert Options(dither=0.5).run_tolerance == 0  # dithering maps pixels itself
    with pytest.raises(ValueError, match="tune must be one of eye, mse, got 'fast'"):
        Options(tune="fast")
    with pytest.raises(ValueError, match="choose one of .* and quality"):
        Options(k=8, quality=70)


def test_one_default_for_the_largest_image_everywhere():
    import inspect

    from kpalette import io
    from kpalette.options import DEFAULT_MAX_PIXELS, MAX_EXPANSION, Options
    from kpalette.serve import create_app

    assert Options().max_pixels == DEFAULT_MAX_PIXELS == 89_478_485
    assert Options().max_expansion == MAX_EXPANSION
    load = inspect.signature(io.load_image).parameters
    assert load["max_pixels"].default == DEFAULT_MAX_PIXELS
    assert load["max_expansion"].default == MAX_EXPANSION
    assert inspect.signature(create_app).parameters["max_pixels"].default == DEFAULT_MAX_PIXELS
    # Lowering or raising the pixel limit leaves the expansion guard as it was.
    assert Options(max_pixels=1000).max_expansion == MAX_EXPANSION
    assert Options(max_pixels=10**9).max_expansion == MAX_EXPANSION
