"""Uploads kept by the web app: each image decoded and its colours counted once, so that
moving the k slider only refits the cached histogram and maps a small preview.

Each upload has an unguessable id (``secrets.token_urlsafe``), expires after a while
unused, and the store holds at most so many uploads and so many bytes of pixels,
dropping the least recently used first. Nothing is written to disk.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..choose import KSweep
from ..options import Options

__all__ = ["Upload", "UploadStore"]


@dataclass
class Upload:
    """One uploaded image: its sweeps (one per colour space and seed) and its preview."""

    data_bytes: int
    sweep: KSweep
    preview: np.ndarray
    used: float = field(default_factory=time.monotonic)
    sweeps: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Memory held: the pixels (three copies at most) and the preview."""
        return self.sweep.original.nbytes * 3 + self.preview.nbytes

    def sweep_for(self, options: Options) -> KSweep:
        """The sweep of these options' colour space and seed (made once, on the same
        prepared image: the colours are not counted again)."""
        key = (options.color_space, repr(options.seed))
        base = self.sweep
        if key == (base.options.color_space, repr(base.options.seed)):
            return base
        if key not in self.sweeps:
            self.sweeps[key] = KSweep(base.prepared, options=options)
        return self.sweeps[key]

    def preview_image(self, options: Options, k: int) -> tuple[np.ndarray, dict]:
        """The preview mapped onto the fit at ``k``, and the fit's numbers."""
        sweep = self.sweep_for(options)
        fit = sweep.fit(k)
        pixels = np.ascontiguousarray(self.preview.reshape(-1, self.preview.shape[-1]))
        if options.dither > 0:
            from ..dither import dither

            labels = dither(self.preview, fit.palette, strength=options.dither)
        else:
            labels = fit.pixel_labels(pixels).reshape(self.preview.shape[:2])
        point = sweep.point(k)
        numbers = {
            "k": k,
            "colors": fit.n_colors,
            "mse": round(point["mse"], 4),
            "psnr": None if not np.isfinite(point["psnr"]) else round(point["psnr"], 3),
            "delta_e": round(sweep.delta_e(k), 4),
        }
        return np.take(fit.palette, labels, axis=0), numbers


class UploadStore:
    """Uploads by id, bounded in number, memory and time (least recently used dropped)."""

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

    def __len__(self) -> int:
        return len(self._uploads)

    def _trim(self) -> None:
        now = time.monotonic()
        for key in [k for k, u in self._uploads.items() if now - u.used > self.ttl]:
            del self._uploads[key]
        by_age = sorted(self._uploads, key=lambda k: self._uploads[k].used)
        while by_age and (
            len(self._uploads) > self.max_uploads
            or sum(u.nbytes for u in self._uploads.values()) > self.max_bytes
        ):
            del self._uploads[by_age.pop(0)]
