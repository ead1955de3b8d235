"""Uploads kept by the web app: each image decoded and its colours counted once, so that
moving the k slider only refits the cached histogram and maps a small view of it.

Each upload has an unguessable id (``secrets.token_urlsafe``), expires after a while
unused, and the store holds at most so many uploads and so many bytes, dropping the
least recently used first. Nothing is written to disk.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..dither import dither
from ..options import Options
from ..palette import order_by_share, to_hex
from ..prepare import PreparedImage
from ..sweep import KSweep

__all__ = ["View", "Upload", "UploadStore"]

#: Sweeps (colour space, seed, dithering) an upload keeps, fits per sweep, and
#: full-size results per sweep: bounded so that sliding through every k does not hold
#: every fit.
MAX_SWEEPS = 3
MAX_FITS = 16
MAX_RESULTS = 1


@dataclass(frozen=True)
class View:
    """A region of an upload shown at an integer step: what the page's picture holds.

    The view's pixels are every ``step``-th pixel of the region, the very pixels the
    full-size result has there: the preview is a subsample of what is downloaded.

    Attributes
    ----------
    x, y, width, height : int
        The region, in the image's pixels (clipped to the image).
    step : int
        1 for 1:1; otherwise the region is shrunk ``step`` times.
    """

    x: int
    y: int
    width: int
    height: int
    step: int

    @classmethod
    def fitting(cls, shape, side: int, x=None, y=None, width=None, height=None) -> View:
        """The region (default: the whole image) shrunk to at most ``side`` pixels a side.

        Raises ValueError (quoting the value) for a side outside 16..4096 or a region
        outside the image.
        """
        rows, cols = shape
        if not 16 <= side <= 4096:
            raise ValueError(f"side must be in 16..4096, got {side}")
        x = 0 if x is None else x
        y = 0 if y is None else y
        if not (0 <= x < cols and 0 <= y < rows):
            raise ValueError(f"the region's corner ({x}, {y}) is outside the {cols}x{rows} image")
        width = cols - x if width is None else min(width, cols - x)
        height = rows - y if height is None else min(height, rows - y)
        if width < 1 or height < 1:
            raise ValueError(f"the region must be at least 1x1, got {width}x{height}")
        step = max(1, -(-max(width, height) // side))
        return cls(x, y, width, height, step)

    def of(self, image: np.ndarray) -> np.ndarray:
        """The view's pixels of an (H, W, C) image, C-contiguous."""
        region = image[
            self.y : self.y + self.height : self.step, self.x : self.x + self.width : self.step
        ]
        return np.ascontiguousarray(region)

    def as_dict(self) -> dict:
        return {
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
            "step": self.step,
        }


@dataclass
class Upload:
    """One uploaded image, counted once, and its sweeps (one per colour space, seed and
    dithering strength, each bounded)."""

    prepared: PreparedImage
    name: str
    data_bytes: int
    frames: int = 1
    animation: bytes | None = field(default=None, repr=False)
    used: float = field(default_factory=time.monotonic)
    sweeps: OrderedDict = field(default_factory=OrderedDict)
    animations: OrderedDict = field(default_factory=OrderedDict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def nbytes(self) -> int:
        """Memory held, estimated: pixels, histogram, the kept fits and results."""
        prepared = self.prepared
        pixels = prepared.original.nbytes
        if prepared.fitted is not prepared.original:
            pixels += prepared.fitted.nbytes
        n_colors = prepared.histogram.n_colors
        held = pixels + n_colors * 40 + len(self.animation or b"")
        held += sum(len(data) for data in list(self.animations.values()))
        for sweep in list(self.sweeps.values()):
            # its grids and search trees (a sorted copy of the colours, and the nodes),
            # each fit's labels, each full-size result
            held += n_colors * 96 + len(sweep.fitted_ks) * n_colors * 8
            held += len(sweep.results) * pixels
        return held

    def animation_file(self, options: Options, image_format: str, encode) -> bytes:
        """The animation's file at these options (``encode(data, options, format)``),
        made once: the page asks its size, then downloads it. The last two are kept."""
        key = (repr(options), image_format)
        with self.lock:
            if key in self.animations:
                self.animations.move_to_end(key)
                return self.animations[key]
        data = encode(self.animation, options, image_format)
        with self.lock:
            self.animations[key] = data
            while len(self.animations) > 2:
                self.animations.popitem(last=False)
        return data

    def sweep_for(self, options: Options) -> KSweep:
        """The sweep of these options' colour space, seed and dithering (made once, on the
        same counted image)."""
        key = (options.tune, options.color_space, repr(options.seed), options.dither)
        with self.lock:
            sweep = self.sweeps.pop(key, None)
            if sweep is None:
                sweep = KSweep(
                    self.prepared,
                    options=options.replace(k=2),
                    max_fits=MAX_FITS,
                    max_results=MAX_RESULTS,
                )
            self.sweeps[key] = sweep
            while len(self.sweeps) > MAX_SWEEPS:
                self.sweeps.popitem(last=False)
        return sweep

    def preview(self, options: Options, view: View) -> tuple[np.ndarray, np.ndarray, dict]:
        """The view mapped onto the fit at ``options.k``: (palette, indices, numbers).

        ``numbers`` has k, the colours, the palette by share and, when each colour
        takes its nearest entry (no dithering, ``tune="mse"``), the MSE and PSNR of
        the whole image (exact, from the colour table); the view is then a subsample
        of the full-size result. The mean CIEDE2000 (docs/benchmarks.md, "The web
        page") and, otherwise, every measure come with the full-size result: the
        slider stays quick. (Dithering and the runs of ``tune="eye"`` map the view on
        its own: the same method, at the view's scale.)
        """
        k = options.n_colors
        sweep = self.sweep_for(options)
        fit = sweep.fit(k)
        pixels = view.of(self.prepared.fitted)
        flat = pixels.reshape(-1, pixels.shape[-1])
        if options.dither > 0:
            indices = dither(pixels, fit.palette, strength=options.dither)
        else:
            indices = fit.pixel_labels(
                flat, tolerance=fit.run_allowance(options), width=pixels.shape[1]
            ).reshape(pixels.shape[:2])
        # Mapped on its own (dithering, runs), the view is not a subsample of the
        # full-size result: its measures come with that result.
        exact = options.dither == 0 and options.run_tolerance == 0
        counts = fit.entry_counts()
        order, _ = order_by_share(counts)  # as the result's palette: unused entries dropped
        numbers = {
            "k": k,
            "colors": len(order),
            "palette": to_hex(fit.palette[order]),
            "shares": [round(float(c), 6) for c in counts[order] / max(int(counts.sum()), 1)],
            "mse": None,
            "psnr": None,
            "delta_e": None,
        }
        if exact:
            point = sweep.point(k)
            numbers["mse"] = round(point["mse"], 4)
            numbers["psnr"] = None if not np.isfinite(point["psnr"]) else round(point["psnr"], 3)
        return fit.palette, indices, numbers


class UploadStore:
    """Uploads by id, bounded in number, memory and time (least recently used dropped).

    Parameters
    ----------
    max_uploads : int
    max_bytes : int
        Memory all uploads may hold (:attr:`Upload.nbytes`); the newest upload is kept
        even when it alone is over.
    ttl : float
        Seconds an upload is kept unused.
    """

    def __init__(self, *, max_uploads: int = 16, max_bytes: int = 2_000_000_000, ttl: float = 1800):
        self.max_uploads = max_uploads
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def add(self, upload: Upload) -> str:
        """Keep ``upload``; returns its new id."""
        upload_id = secrets.token_urlsafe(18)
        with self._lock:
            self._uploads[upload_id] = upload
            self._trim()
        return upload_id

    def get(self, upload_id: str) -> Upload | None:
        """The upload of that id, or None if there is none (or it expired)."""
        with self._lock:
            self._trim()
            upload = self._uploads.get(upload_id)
            if upload is not None:
                upload.used = time.monotonic()
            return upload

    def remove(self, upload_id: str) -> bool:
        """Forget the upload of that id; False if there was none."""
        with self._lock:
            return self._uploads.pop(upload_id, None) is not None

    def __len__(self) -> int:
        return len(self._uploads)

    def _trim(self) -> None:
        now = time.monotonic()
        for key in [k for k, u in self._uploads.items() if now - u.used > self.ttl]:
            del self._uploads[key]
        by_age = sorted(self._uploads, key=lambda k: self._uploads[k].used)
        while len(by_age) > 1 and (
            len(self._uploads) > self.max_uploads
            or sum(u.nbytes for u in self._uploads.values()) > self.max_bytes
        ):
            del self._uploads[by_age.pop(0)]
