"""``KMeansQuantizer``: a colour quantizer in scikit-learn's style over :mod:`kpalette.fit`.

It fits the weighted colour histogram of its images (the same objective as K-means on
every pixel), and its transform and predict map pixels onto the palette."""

from __future__ import annotations

import numpy as np

from .colorspace import to_space
from .estimator import (
    _Parameters,
)
from .fit import fit_histogram, nearest_entries
from .histogram import as_pixels, color_histogram, image_histogram, labels_for_pixels
from .options import Options

__all__ = ["KMeansQuantizer"]


class KMeansQuantizer(_Parameters):
    """K-means colour quantizer in the scikit-learn style.

    Parameters
    ----------
    n_colors : int, default=16
        Number of colours (clusters). With an RGBA input that has fully transparent
        pixels, one of them is the transparent colour and ``n_colors - 1`` are fitted.
    n_init : "auto" or int, default="auto"
        Number of k-means++ starts; the best is kept. ``"auto"`` chooses by
        ``n_colors``: 16 starts for k <= 16 down to 1 for k > 128.
    max_iter : int, default=300
        Most Lloyd iterations per start.
    tol : float, default=1e-4
        Convergence tolerance, relative to the colours' variance (as in scikit-learn).
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the k-means++ draws; the same seed gives the same result.
    color_space : {"rgb", "lab", "oklab"}, default="rgb"
        Space the colours are clustered in: sRGB values (minimises the MSE), CIELAB
        or OKLab (minimise a perceptual difference).

    Attributes
    ----------
    cluster_centers_ : (k, C) float64 array
        Mean of each cluster in the clustering space: 0..255 sRGB units, or CIELAB /
        OKLab coordinates (C = 3, or 4 with alpha, see
        :func:`kpalette.colorspace.to_space`).
    palette_ : (k, C) uint8 array
        The centres as sRGB(A), rounded (clipped to the gamut): the colours written.
    labels_ : (H, W) or (N,) array
        Index into ``palette_`` of every pixel of the fitted input (uint8 when
        k <= 256).
    inertia_ : float
        Sum over pixels of the squared distance to their cluster's centre, in the
        clustering space.
    n_iter_ : int
        Lloyd iterations of the kept run.
    counts_ : (k,) int64 array
        Pixels per cluster.
    fit_ : Fit
        The fit itself (:func:`kpalette.fit_histogram`).
    """

    def __init__(
        self,
        n_colors=16,
        *,
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        random_state=None,
        color_space="rgb",
    ):
        self.n_colors = n_colors
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.color_space = color_space

    _PARAMS = ("n_colors", "n_init", "max_iter", "tol", "random_state", "color_space")

    def __repr__(self) -> str:
        defaults = KMeansQuantizer().get_params()
        extras = "".join(
            f", {name}={value!r}"
            for name, value in self.get_params().items()
            if name != "n_colors" and value != defaults[name]
        )
        return f"KMeansQuantizer(n_colors={self.n_colors!r}{extras})"

    def _options(self) -> Options:
        try:
            return Options(
                k=self.n_colors,
                tune="mse",  # scikit-learn's objective: each pixel its nearest centre
                color_space=self.color_space,
                seed=self.random_state,
                n_init=self.n_init,
                max_iter=self.max_iter,
                tol=self.tol,
            )
        except ValueError as exc:  # in this class's names
            message = str(exc).replace("k must", "n_colors must", 1)
            raise ValueError(message.replace("seed must", "random_state must", 1)) from None

    def fit(self, X, y=None):
        """Fit the palette to an image or a set of pixels.

        Parameters
        ----------
        X : (H, W, C) or (N, C) array, C = 3 or 4
            See :func:`kpalette.histogram.as_pixels` for the accepted value ranges.
        y : ignored

        Returns
        -------
        self
        """
        options = self._options()
        pixels, leading = as_pixels(X)
        fit = fit_histogram(image_histogram(pixels), options)
        self.fit_ = fit
        self.n_channels_ = pixels.shape[1]
        self.cluster_centers_ = fit.centers
        self.palette_ = fit.palette
        self.inertia_ = fit.inertia
        self.n_iter_ = fit.n_iter
        self.labels_ = fit.pixel_labels(pixels).reshape(leading)
        self.counts_ = np.bincount(self.labels_.ravel(), minlength=fit.n_colors).astype(np.int64)
        return self

    def predict(self, X):
        """Index of the nearest palette colour for every pixel of ``X``.

        Parameters
        ----------
        X : (H, W, C) or (N, C) array with the channels of the fitted input

        Returns
        -------
        labels : (H, W) or (N,) array
        """
        if not hasattr(self, "fit_"):
            raise AttributeError(
                "this KMeansQuantizer is not fitted yet; call fit() before predict()"
            )
        fit = self.fit_
        pixels, leading = as_pixels(X)
        if pixels.shape[1] != self.n_channels_:
            raise ValueError(
                f"fitted on {self.n_channels_}-channel colours, got {pixels.shape[1]} channels"
            )
        labels = np.empty(len(pixels), dtype=np.uint8 if fit.n_colors <= 256 else np.int32)
        visible = np.ones(len(pixels), dtype=bool)
        if fit.transparent_label is not None:
            visible = pixels[:, 3] != 0
            labels[~visible] = fit.transparent_label
        if visible.any():
            subset = pixels[visible] if not visible.all() else pixels
            dims = fit.histogram.colors.shape[1]
            if dims == 3:
                subset = subset[:, :3]
            histogram = color_histogram(subset)
            color_labels = nearest_entries(
                to_space(histogram.colors, fit.color_space),
                fit.palette,
                fit.color_space,
                dims=dims,
                reserved=fit.transparent_label,
            )
            labels[visible] = labels_for_pixels(subset, histogram, color_labels)
        return labels.reshape(leading)

    def fit_predict(self, X, y=None):
        """Fit to ``X`` and return ``labels_``."""
        return self.fit(X).labels_
