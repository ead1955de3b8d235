"""SSIMULACRA2, the perceptual score ``--quality`` aims at (0-100, higher is better).

The metric of Jon Sneyers (Cloudinary), as libjxl's ``tools/ssimulacra2.cc`` defines
it (BSD-3-Clause; its published constants are used here): both images in linear
light, then in JPEG XL's XYB space (cube-root cone responses, made positive); at six
scales, each half the size of the last (averaged in linear light), an SSIM map and
two edge maps (artefacts added, detail lost) per channel, each summarised by its
mean and its 4-norm; the 108 numbers weighted, summed and mapped onto 0-100
(about 90: hard to tell apart at 1:1; 70: high quality; 50: medium; below 30: low).

In NumPy, with its two loops over each scale's pixels compiled
(:mod:`kpalette._kernels.ssimulacra2`: a separable Gaussian blur, sigma 1.5, 11 taps,
zero beyond the left and right sides and mirrored at the top and bottom, as the
``ssimulacra2`` package does; and the maps summed into their means and 4-norms
without being stored; their NumPy twins are in tests/reference.py): tested against
that package within half a point on photos (tests/test_ssimulacra2.py).
"""

from __future__ import annotations

import numpy as np

from ._kernels.ssimulacra2 import blur, scale_sums

__all__ = ["SAMPLE_PIXELS", "Reference", "sample", "ssimulacra2"]

#: Pixels :func:`sample` keeps of a larger image (four tiles of about 362 x 362).
SAMPLE_PIXELS = 1 << 19

_OPSIN = np.array(
    [
        [0.30, 0.622, 0.078],
        [0.23, 0.692, 0.078],
        [0.24342268924547819, 0.20476744424496821, 0.55180986650955360],
    ]
)
_BIAS = 0.0037930732552754493
_C2 = 0.0009
_FLOAT = np.float32
_SCALES = 6
_SIGMA = 1.5
_RADIUS = 5
_TAPS = np.exp(-0.5 * (np.arange(-_RADIUS, _RADIUS + 1) / _SIGMA) ** 2)
_TAPS = (_TAPS / _TAPS.sum()).astype(_FLOAT)
#: libjxl's weights of the 108 numbers: for each XYB channel, each scale, each
#: norm (mean, 4-norm): the SSIM map's, the artefacts', the lost detail's.
_WEIGHTS = np.array(
    [
        0.0,
        0.0007376606707406586,
        0.0,
        0.0,
        0.0007793481682867309,
        0.0,
        0.0,
        0.0004371155730107379,
        0.0,
        1.1041726426657346,
        0.00066284834129271,
        0.00015231632783718752,
        0.0,
        0.0016406437456599754,
        0.0,
        1.8422455520539298,
        11.441172603757666,
        0.0,
        0.0007989109436015163,
        0.000176816438078653,
        0.0,
        1.8787594979546387,
        10.94906990605142,
        0.0,
        0.0007289346991508072,
        0.9677937080626833,
        0.0,
        0.00014003424285435884,
        0.9981766977854967,
        0.00031949755934435053,
        0.0004550992113792063,
        0.0,
        0.0,
        0.0013648766163243398,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        7.466890328078848,
        0.0,
        17.445833984131262,
        0.0006235601634041466,
        0.0,
        0.0,
        6.683678146179332,
        0.00037724407979611296,
        1.027889937768264,
        225.20515300849274,
        0.0,
        0.0,
        19.213238186143016,
        0.0011401524586618361,
        0.001237755635509985,
        176.39317598450694,
        0.0,
        0.0,
        24.43300999870476,
        0.28520802612117757,
        0.0004485436923833408,
        0.0,
        0.0,
        0.0,
        34.77906344483772,
        44.835625328877896,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0008680556573291698,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0005313191874358747,
        0.0,
        0.00016533814161379112,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0004179171803251336,
        0.0017290828234722833,
        0.0,
        0.0020827005846636437,
        0.0,
        0.0,
        8.826982764996862,
        23.19243343998926,
        0.0,
        95.1080498811086,
        0.9863978034400682,
        0.9834382792465353,
        0.0012286405048278493,
        171.2667255897307,
        0.9807858872435379,
        0.0,
        0.0,
        0.0,
        0.0005130064588990679,
        0.0,
        0.00010854057858411537,
    ]
)
#: sRGB value (0..255) to linear light.
_LINEAR = np.where(
    np.arange(256) / 255.0 <= 0.04045,
    np.arange(256) / 255.0 / 12.92,
    ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4,
).astype(_FLOAT)


def ssimulacra2(reference, distorted: np.ndarray) -> float:
    """SSIMULACRA2 score of ``distorted`` against ``reference``.

    Parameters
    ----------
    reference : (H, W, 3) or (H, W, 4) uint8 array, or Reference
        A :class:`Reference` when one image is scored against many times.
    distorted : (H, W, 3) or (H, W, 4) uint8 array
        The same size, at least 8 pixels each way. With alpha, each is blended
        over mid grey (0.5 in linear light), as the ``ssimulacra2`` package does.

    Returns
    -------
    float
        100 for identical images; lower is worse (it can go below 0).

    Raises
    ------
    ValueError
        For arrays of other shapes, dtypes or sizes.
    """
    if isinstance(reference, Reference):
        return reference.score(distorted)
    reference = _checked(reference)
    distorted = _same_size(reference.shape[:2], distorted)
    reference = _scorable(reference)  # a size mismatch is said before a tiny image
    linear_a, linear_b = _linear(reference), _linear(distorted)
    features = []
    for scale in range(_SCALES):
        if scale:
            linear_a, linear_b = _half(linear_a), _half(linear_b)
        if min(linear_a.shape[:2]) < 8:
            break
        features.append(_banded_features(linear_a, linear_b))
    return _score(features)


#: Rows of a scale worked on at once by :func:`ssimulacra2` (with the blur's halo):
#: the planes of a band, not of the whole image, are held, so that a large photo is
#: scored whole in bounded memory (the linear images themselves, 24 bytes a pixel
#: for the two, are the rest).
BAND_ROWS = 128


def _banded_features(linear_a: np.ndarray, linear_b: np.ndarray) -> np.ndarray:
    """One scale's (3, 2, 3) numbers, band by band of rows: each band's planes are
    blurred with ``_RADIUS`` real rows above and below it (mirrored only at the
    image's own top and bottom, as in one pass), and the bands' sums combined."""
    height, width = linear_a.shape[:2]
    means = np.zeros((3, 3))
    fourths = np.zeros((3, 3))
    for top in range(0, height, BAND_ROWS):
        bottom = min(height, top + BAND_ROWS)
        low, high = max(0, top - _RADIUS), min(height, bottom + _RADIUS)
        xyb_a = np.ascontiguousarray(_xyb(linear_a[low:high]))
        xyb_b = np.ascontiguousarray(_xyb(linear_b[low:high]))
        blurred_a, blurred_b = _reference_blur(xyb_a), _distorted_blur(xyb_a, xyb_b)
        kept = slice(top - low, bottom - low)
        band = scale_sums(
            xyb_a[kept], xyb_b[kept], blurred_a[kept], blurred_b[kept], _C2
        )  # [channel, (mean, 4-norm), map]
        share = (bottom - top) / height
        means += share * band[:, 0, :]
        fourths += share * band[:, 1, :] ** 4
    out = np.empty((3, 2, 3))
    out[:, 0, :], out[:, 1, :] = means, np.sqrt(np.sqrt(fourths))
    return out


class Reference:
    """An image prepared to be scored against: its XYB planes and their blurs at each
    scale, made once (a search scores many candidates against one original; held
    whole, 40 bytes a pixel, so meant for images of a megapixel or less, such as
    :func:`sample`'s).

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) uint8 array
        At least 8 pixels each way.
    """

    def __init__(self, image: np.ndarray) -> None:
        image = _scorable(image)
        self.shape = image.shape[:2]
        self._scales = []  # per scale: (XYB, the blur of [XYB, XYB**2])
        linear = _linear(image)
        for scale in range(_SCALES):
            if scale:
                linear = _half(linear)
            if min(linear.shape[:2]) < 8:
                break
            xyb = np.ascontiguousarray(_xyb(linear))
            self._scales.append((xyb, _reference_blur(xyb)))

    def score(self, distorted: np.ndarray) -> float:
        """SSIMULACRA2 of ``distorted`` (the reference's size) against this image."""
        linear = _linear(_same_size(self.shape, distorted))
        features = []
        for scale, (xyb_a, blurred_a) in enumerate(self._scales):
            if scale:
                linear = _half(linear)
            xyb_b = np.ascontiguousarray(_xyb(linear))
            blurred_b = _distorted_blur(xyb_a, xyb_b)
            features.append(scale_sums(xyb_a, xyb_b, blurred_a, blurred_b, _C2))
        return _score(features)


def sample(image: np.ndarray, max_pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """The image itself when it has at most ``max_pixels`` pixels, else a mosaic of
    four evenly spaced tiles of it (2 x 2, each a quarter of ``max_pixels``, square
    where the image allows): what a search scores many times, in bounded time.

    The same mosaic of a quantized image and of its original scores close to the
    whole images (the metric averages over the picture; the seams are in both).

    Parameters
    ----------
    image : (H, W, C) array
    max_pixels : int

    Returns
    -------
    (h, w, C) array
    """
    height, width = image.shape[:2]
    if height * width <= max_pixels:
        return image
    tile_h = min(int(np.sqrt(max_pixels / 4)), height // 2)
    tile_w = min(max_pixels // 4 // tile_h, width // 2)
    # Tiles centred on the quarter points of each side.
    ys = [min(max(0, height * q // 4 - tile_h // 2), height - tile_h) for q in (1, 3)]
    xs = [min(max(0, width * q // 4 - tile_w // 2), width - tile_w) for q in (1, 3)]
    rows = [np.concatenate([image[y : y + tile_h, x : x + tile_w] for x in xs], axis=1) for y in ys]
    return np.concatenate(rows, axis=0)


def _checked(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(
            f"expected an (H, W, 3|4) uint8 image, got shape {image.shape} and dtype {image.dtype}"
        )
    return image


def _linear(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 linear light, alpha blended over 0.5."""
    linear = _LINEAR[image[..., :3]]
    if image.shape[2] == 4:
        alpha = image[..., 3:].astype(_FLOAT) / 255.0
        linear = alpha * linear + (1.0 - alpha) * 0.5
    return linear


def _half(linear: np.ndarray) -> np.ndarray:
    """Each 2x2 block averaged (a last odd row or column on its own)."""
    height, width = linear.shape[:2]
    if height % 2:
        linear = np.concatenate([linear, linear[-1:]], axis=0)
    if width % 2:
        linear = np.concatenate([linear, linear[:, -1:]], axis=1)
    return 0.25 * (
        linear[0::2, 0::2] + linear[1::2, 0::2] + linear[0::2, 1::2] + linear[1::2, 1::2]
    )


def _xyb(linear: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 XYB, made positive as SSIMULACRA2 does."""
    # einsum, in this thread: a BLAS product would leave its threads spinning
    mixed = np.einsum("...j,kj->...k", linear, _OPSIN.astype(_FLOAT)) + _FLOAT(_BIAS)
    np.maximum(mixed, 0.0, out=mixed)
    mixed = np.cbrt(mixed) - _FLOAT(np.cbrt(_BIAS))
    x = 0.5 * (mixed[..., 0] - mixed[..., 1])
    y = 0.5 * (mixed[..., 0] + mixed[..., 1])
    return np.stack([x * 14.0 + 0.42, y + 0.01, (mixed[..., 2] - y) + 0.55], axis=-1)


def _scorable(image) -> np.ndarray:
    """``image`` checked as :func:`_checked` does, and at least 8x8 pixels."""
    image = _checked(image)
    if min(image.shape[:2]) < 8:
        raise ValueError(f"SSIMULACRA2 needs at least 8x8 pixels, got {image.shape[:2]}")
    return image


def _same_size(shape: tuple[int, ...], distorted) -> np.ndarray:
    """``distorted`` checked, and of the reference's ``shape`` (H, W)."""
    distorted = _checked(distorted)
    if distorted.shape[:2] != shape:
        raise ValueError(
            f"the images must have the same size, got {shape} and {distorted.shape[:2]}"
        )
    return distorted


def _reference_blur(xyb_a: np.ndarray) -> np.ndarray:
    """(H, W, 6): the blur of ``[a, a*a]``, the reference's part of a scale."""
    return _blurred(np.concatenate([xyb_a, xyb_a * xyb_a], axis=-1))


def _distorted_blur(xyb_a: np.ndarray, xyb_b: np.ndarray) -> np.ndarray:
    """(H, W, 9): the blur of ``[b, b*b, a*b]``, the distorted image's part."""
    return _blurred(np.concatenate([xyb_b, xyb_b * xyb_b, xyb_a * xyb_b], axis=-1))


def _blurred(planes: np.ndarray) -> np.ndarray:
    """The Gaussian blur of (H, W, C) float32 planes (compiled)."""
    work, out = np.empty_like(planes), np.empty_like(planes)
    blur(planes, _TAPS, work, out)
    return out


def _score(features: list[np.ndarray]) -> float:
    # libjxl's order: channel, then scale, then norm, then (ssim, artefact, detail).
    per_channel = np.stack(features, axis=0).transpose(1, 0, 2, 3)
    # (With fewer scales, libjxl reads the weights in order all the same.)
    weights = _WEIGHTS[: 3 * len(features) * 6].reshape(3, len(features), 2, 3)
    total = float((np.abs(per_channel) * weights).sum()) * 0.9562382616834844
    total = (
        2.326765642916932 * total
        - 0.020884521182843837 * total**2
        + 6.248496625763138e-05 * total**3
    )
    return 100.0 - 10.0 * total**0.6276336467831387 if total > 0 else 100.0
