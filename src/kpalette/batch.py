"""Many images: finding them, planning their outputs, running them on all cores, reporting.

:func:`discover` walks files, folders and glob patterns for image files (recognised by
their content); :func:`plan` gives each one its output under the output folder, keeping
the inputs' folder layout and refusing two inputs that would share an output;
:func:`run` compresses them in a pool of processes, yielding one :class:`Row` per input
as it finishes. Every input's work is a plain call of the public API (``quantize``,
``choose_k``, ``remap``), so its output is the same bytes whatever the number of jobs.
A failure is one row, never the end of the batch.
"""

from __future__ import annotations

import contextlib
import glob
import math
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import io, storage
from .animation import (
    ANIMATION_DITHER,
    ANIMATION_FORMATS,
    QuantizedAnimation,
    quantize_animation,
)
from .exceptions import KPaletteError, KPaletteWarning
from .fit import fit_histogram
from .histogram import ColorHistogram, rgb_histogram, sum_histograms, unpack_colors
from .options import Options
from .prepare import prepare
from .quantize import quantize_for
from .result import QuantizedImage
from .threads import default_threads, set_default_threads

__all__ = [
    "BATCH_FORMATS",
    "Job",
    "Row",
    "Settings",
    "discover",
    "paths_visible",
    "plan",
    "run",
    "shared_palette",
]

#: Output formats of a batch (palette images, lossless WebP, and JPEG: a palette
#: image's colours, then JPEG's own loss, measured as written).
BATCH_FORMATS = ("png", "gif", "webp", "jpg")


@dataclass(frozen=True)
class Job:
    """One input and where its output goes.

    Attributes
    ----------
    source : Path or str
        A local file, or an object's URL (:mod:`kpalette.storage`).
    folder : Path or str
        Folder of the output, under the batch's output folder (a URL prefix for
        object storage).
    stem : str
        The output's name is ``<stem>-k<N>.<extension>``, N the colours given or chosen.
    done : str, optional
        In object storage, the output already there when the batch was planned (the
        bucket is listed once, not once an input).
    """

    source: Path | str
    folder: Path | str
    stem: str
    done: str | None = None

    def output(self, k: int, extension: str) -> Path | str:
        """The output path (or URL) for ``k`` colours."""
        name = f"{self.stem}-k{k}.{extension}"
        return (
            storage.join(self.folder, name) if isinstance(self.folder, str) else self.folder / name
        )

    def existing(self, extension: str) -> Path | str | None:
        """An output already there for this input (any k), or None."""
        if isinstance(self.folder, str):
            return self.done
        found = sorted(self.folder.glob(f"{glob.escape(self.stem)}-k*.{extension}"))
        return found[0] if found else None


@dataclass(frozen=True)
class Settings:
    """How every input of a batch is written (the same for all).

    Attributes
    ----------
    extension : {"png", "gif", "webp", "jpg"}
    force : bool
        Replace existing outputs (else an input with an output is skipped).
    skip_if_larger : bool
        Do not write an output larger than its input.
    palette : (m, 3) uint8 array or None
        Map every image onto this palette instead of fitting one.
    measure : bool
        Measure each output (MSE, PSNR, mean CIEDE2000) for its row; a batch without a
        report skips that work.
    animation_dither : float
        The dithering of animations (GIF, APNG, WebP inputs of several frames, written
        as .gif, .png or .webp with every frame: :func:`kpalette.quantize_animation`).
    """

    extension: str = "png"
    force: bool = False
    skip_if_larger: bool = False
    palette: np.ndarray | None = field(default=None, compare=False)
    measure: bool = True
    animation_dither: float = ANIMATION_DITHER


@dataclass
class Row:
    """One input's line of the report."""

    input: str
    output: str | None = None
    status: str = "failed"  # "ok", "skipped", "skipped-larger", "failed"
    error: str | None = None
    width: int | None = None
    height: int | None = None
    k: int | None = None
    colors: int | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    ratio: float | None = None
    mse: float | None = None
    psnr: float | None = None
    delta_e: float | None = None
    seconds: float | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- finding
def _is_image(path: Path) -> bool:
    """Whether a file is taken as an image: its content is one Pillow reads (its header
    only), or its extension is an image format's (a damaged image is then an input
    that fails with a reason, not a file passed over)."""
    if path.suffix.lower() in Image.registered_extensions():
        return True
    try:
        os.stat(path)  # a symbolic link loop, a broken link, no permission: an input
    except OSError:  # that fails with its reason, not a file passed over in silence
        return True
    try:
        with Image.open(path, formats=io.READ_FORMATS):
            return True
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return False
    except Exception:  # noqa: BLE001 (a damaged header: an image, to fail with a reason)
        return True


def discover(inputs, out_dir) -> tuple[list[tuple[Path | str, Path | str]], int]:
    """The image files among ``inputs``, each with the folder its layout is relative to.

    Parameters
    ----------
    inputs : iterable of str
        Files, folders (walked recursively) and glob patterns; or object storage URLs
        (``s3://bucket/prefix/``: every object under it whose extension is an
        image format's, :mod:`kpalette.storage`).
    out_dir : path or str
        The batch's output folder (or URL prefix): nothing inside it is an input.

    Returns
    -------
    found : list of (file, base folder)
        In the order given, each file once.
    not_images : int
        Files skipped because their content is not an image Pillow reads.

    Raises
    ------
    ValueError
        An input that is neither a file, a folder nor a pattern matching anything.
    """
    remote_out = str(out_dir).rstrip("/") + "/" if storage.is_url(out_dir) else None
    local_out = None if remote_out else Path(out_dir).resolve()
    found: dict = {}
    not_images = 0

    def consider(path: Path, base: Path) -> None:
        nonlocal not_images
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symbolic link loop: kept, to fail as a row
            resolved = path.absolute()
        inside = local_out is not None and (resolved == local_out or local_out in resolved.parents)
        if inside or resolved in found:
            return
        if _is_image(path):
            found[resolved] = base
        else:
            not_images += 1

    for text in inputs:
        if storage.is_url(text):  # objects, by extension, in order
            for url, prefix in storage.find_images(str(text)):
                if (remote_out is None or not url.startswith(remote_out)) and url not in found:
                    found[url] = prefix
            continue
        path = Path(text)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    consider(Path(root) / name, path)
        elif path.is_file():
            consider(path, path.parent)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise ValueError(f"no file matches {text!r}")
            base = Path(text)
            while glob.has_magic(str(base)):
                base = base.parent
            for match in matches:
                if Path(match).is_file():
                    consider(Path(match), base)
        else:
            raise ValueError(f"no such file or folder: {text!r}")
    return [
        (path, base if isinstance(base, str) else base.resolve()) for path, base in found.items()
    ], not_images


def _outputs_by_input(urls, extension: str) -> dict[tuple[str, str], str]:
    """The objects named ``<stem>-k<anything>.<extension>``, by (folder, stem): for
    each, the first URL in order (as :meth:`Job.existing` finds a local one). Indexed
    once, so that planning a million inputs does not scan the listing for each."""
    found: dict[tuple[str, str], str] = {}
    suffix = f".{extension}"
    for url in sorted(urls):
        folder, _, name = url.rpartition("/")
        if not name.endswith(suffix):
            continue
        at = name.find("-k")
        while at >= 0:  # every "-k" may end the stem ("my-kite-k16.png": "my-kite")
            found.setdefault((folder, name[:at]), url)
            at = name.find("-k", at + 1)
    return found


def plan(found, out_dir, extension: str = "png") -> list[Job]:
    """Each input's output folder and name: the input's place under its base folder,
    repeated under ``out_dir``.

    Raises
    ------
    ValueError
        Two inputs that would write the same output (``photo.jpg`` and ``photo.png`` in
        one folder), named in the message.
    """
    remote = storage.is_url(out_dir)
    there = _outputs_by_input(storage.listing(str(out_dir)), extension) if remote else {}
    out_dir = str(out_dir) if remote else Path(out_dir)
    jobs: list[Job] = []
    seen: dict = {}
    for source, base in found:
        if isinstance(source, str):  # an object: its key under the listed prefix
            relative = Path(source[len(base) :].lstrip("/"))
        else:
            relative = source.relative_to(base) if base in source.parents else Path(source.name)
        stem = Path(relative.name).stem
        if remote:
            folder = out_dir.rstrip("/")
            if str(relative.parent) != ".":
                folder = storage.join(folder, relative.parent.as_posix())
            job = Job(source=source, folder=folder, stem=stem, done=there.get((folder, stem)))
        else:
            job = Job(source=source, folder=out_dir / relative.parent, stem=stem)
        key = (job.folder, job.stem)
        if key in seen:
            named = str(job.output(0, extension)).removesuffix(f"0.{extension}")
            raise ValueError(
                f"{seen[key]} and {source} would both be written as "
                f"{named}<N>.{extension}; rename one or run them apart"
            )
        seen[key] = source
        jobs.append(job)
    return jobs


# --------------------------------------------------------------------------- one input
def process(job: Job, options: Options, settings: Settings) -> Row:
    """Compress one input; every failure is a row, never an exception."""
    start = time.perf_counter()
    row = Row(input=str(job.source), input_bytes=storage.size(job.source))
    try:
        existing = job.existing(settings.extension)
        if existing is not None and not settings.force:
            if not isinstance(existing, str):
                io.remove_stale_temporaries(existing)  # of a write killed after its link
            row.status, row.output = "skipped", str(existing)
            return row
        source = storage.read(job.source)  # an object's bytes; a local file's path
        fmt = io.output_format(f"x.{settings.extension}")
        result: QuantizedImage | QuantizedAnimation
        with _warnings_into(row.warnings):
            if _is_animation(source, fmt, options):
                result = _animation(job, source, options, settings)
                data = result.encode(fmt.name)
            else:
                result = quantize_for(source, fmt, palette=settings.palette, options=options)
                data, result = result.encode_file(fmt.name, truecolor=not fmt.palette)
        row.width, row.height = result.shape[1], result.shape[0]
        row.k = result.n_colors
        output = job.output(result.n_colors, settings.extension)
        row.output = str(output)
        _write(job, output, data, settings, row)
        row.colors = result.colors_written if isinstance(result, QuantizedImage) else row.k
        if settings.measure:
            row.mse = round(result.mse, 6)
            row.psnr = None if math.isinf(result.psnr) else round(result.psnr, 4)
            if isinstance(result, QuantizedImage):  # not measured for an animation
                row.delta_e = round(result.delta_e, 4)
        if row.input_bytes and row.output_bytes:
            row.ratio = round(row.input_bytes / row.output_bytes, 4)
    except (KPaletteError, ValueError, OSError, MemoryError) as exc:
        row.status, row.error = "failed", " ".join(str(exc).split()) or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 (one input's failure must not end the batch)
        row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        row.seconds = round(time.perf_counter() - start, 4)
    return row


def _write(job: Job, output, data: bytes, settings: Settings, row: Row) -> None:
    """The output written (a file atomically, an object in one request), or skipped
    as larger than its input; the row says which."""
    if settings.skip_if_larger and row.input_bytes is not None and len(data) > row.input_bytes:
        row.status, row.output_bytes = "skipped-larger", len(data)
        return
    if isinstance(output, str):
        row.output_bytes = storage.write(
            output, data, overwrite=settings.force, protect=(str(job.source),)
        )
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        row.output_bytes = io.write_bytes_atomic(
            output, data, overwrite=settings.force, protect=(job.source,)
        )
    row.status = "ok"


def _is_animation(source, fmt, options: Options) -> bool:
    """Whether the input has several frames and the output format keeps them all."""
    if fmt.name not in ANIMATION_FORMATS:
        return False
    count = io.frame_count(
        source, max_pixels=options.max_pixels, max_expansion=options.max_expansion
    )
    return count > 1


def _animation(job: Job, source, options: Options, settings: Settings) -> QuantizedAnimation:
    """An animation's every frame over one palette."""
    if options.choice is not None:
        raise ValueError(
            f"{job.source} is an animation: it takes -k N or --palette (choosing k by a "
            "target is for still images)"
        )
    return quantize_animation(
        source, palette=settings.palette, options=options.replace(dither=settings.animation_dither)
    )


@contextlib.contextmanager
def _warnings_into(said: list[str]):
    """The warnings raised inside, each once, into ``said`` (kpalette's and the
    decoder's: a first frame only, a CMYK photo, damaged EXIF)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                if issubclass(warning.category, (KPaletteWarning, UserWarning)):
                    text = " ".join(str(warning.message).split())
                    if text not in said:
                        said.append(text)


def _histogram(source: Path | str, options: Options):
    """(codes, counts) of an image's visible RGB colours: the map step of a shared palette."""
    try:
        prepared = prepare(storage.read(source), options)
    except (KPaletteError, ValueError, OSError, MemoryError):
        return None
    histogram = rgb_histogram(prepared.pixels)
    return histogram.codes, histogram.counts


# --------------------------------------------------------------------------- many inputs
def _pool(jobs: int) -> ProcessPoolExecutor:
    """Processes of their own (spawned: the OpenMP runtime of this one is not forked),
    each told to use its share of the threads for the compiled loops
    (:func:`~kpalette.threads.default_threads` // ``jobs``), so that the machine is not
    oversubscribed."""
    threads = max(1, default_threads() // jobs)
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(threads,),
    )


def _start_worker(threads: int) -> None:
    """A batch worker's start: its share of the cores, given as an argument, and a
    watch on the batch's process, so that a worker whose parent was killed (SIGKILL,
    out of memory) ends at once rather than running on as an orphan."""
    set_default_threads(threads)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    """Wait until the parent process has ended (its sentinel is ready), then end this one
    (an output being written is left as its temporary, which the next run removes)."""
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _map(function, items, jobs: int, *args) -> Iterator:
    """``function(item, *args)`` for every item, as they finish: in this process when
    ``jobs`` is 1, else in a pool of ``jobs`` processes (at most ``2 * jobs`` queued)."""
    if jobs <= 1:
        for item in items:
            yield function(item, *args)
        return
    pool = _pool(jobs)
    try:
        pending = set()
        items = iter(items)
        for item in items:
            pending.add(pool.submit(function, item, *args))
            if len(pending) >= 2 * jobs:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _sum_counted(a, b):
    """Two (codes, counts) histograms added (None: an input that could not be read):
    the reduce step of a shared palette."""
    if a is None or b is None:
        return b if a is None else a
    histograms = [ColorHistogram(unpack_colors(c, 3), n, c) for c, n in (a, b)]
    total = sum_histograms(histograms)
    return total.codes, total.counts


def shared_palette(
    jobs: list[Job], options: Options, *, workers: int = 1, client=None
) -> np.ndarray:
    """One palette for all the inputs: their histograms, counted in the workers and
    summed (only histograms travel, never pixels), fitted once.

    With a Dask ``client`` the histograms are summed on the cluster's workers as a
    tree, pairs of pairs, and only the total comes back.

    Returns
    -------
    (k, 3) uint8 array, most used colour first
    """
    sources = [job.source for job in jobs]
    if client is not None:
        level = client.map(_histogram, sources, options=options, retries=RETRIES, pure=False)
        while len(level) > 1:
            paired = [
                client.submit(_sum_counted, level[i], level[i + 1], retries=RETRIES, pure=False)
                for i in range(0, len(level) - 1, 2)
            ]
            level = paired + ([level[-1]] if len(level) % 2 else [])
        counted = level[0].result() if level else None
    else:
        counted = None
        for one in _map(_histogram, sources, workers, options):
            counted = _sum_counted(counted, one)  # an unreadable input fails later
    if counted is None or len(counted[0]) == 0:
        raise ValueError("no input could be read to fit a shared palette")
    codes, counts = counted
    total = ColorHistogram(unpack_colors(codes, 3), counts, codes)
    fit = fit_histogram(total, options)
    counts = np.bincount(fit.labels, weights=total.counts, minlength=fit.n_colors)
    return np.ascontiguousarray(fit.palette[np.argsort(-counts, kind="stable"), :3])


#: Times a task is run again on a Dask cluster when the worker running it dies.
RETRIES = 3


def run(
    jobs: list[Job], options: Options, settings: Settings, *, workers: int = 1, client=None
) -> Iterator[Row]:
    """Compress every job, ``workers`` at a time (or on a Dask cluster through
    ``client``: one task per file, run again elsewhere if its worker dies); yields each
    row as its input finishes.

    The output of an input does not depend on ``workers`` or the cluster: each is a call
    of the public API with the same options. On a cluster the paths must be the same
    on every worker (a shared file system), and a task holds several files when there
    are many (:func:`chunk_size`), so that Dask's cost per task stays small.
    """
    if client is None:
        yield from _map(_process_job, jobs, workers, options, settings)
        return
    from distributed import as_completed

    threads = sum(info.get("nthreads", 1) for info in client.scheduler_info()["workers"].values())
    size = chunk_size(len(jobs), threads)
    chunks = [jobs[start : start + size] for start in range(0, len(jobs), size)]
    futures = client.map(
        _process_chunk, chunks, options=options, settings=settings, retries=RETRIES, pure=False
    )
    for future in as_completed(futures):
        yield from future.result()


#: Tasks per worker thread a cluster batch aims for: enough to share the work out
#: evenly, few enough that Dask's cost per task (tens of milliseconds) is small.
TASKS_PER_THREAD = 8
#: Most files in one cluster task (a worker that dies costs at most these).
MAX_CHUNK = 16


def chunk_size(n_jobs: int, threads: int) -> int:
    """Files per task of a batch of ``n_jobs`` files on ``threads`` worker threads."""
    return max(1, min(MAX_CHUNK, n_jobs // max(1, threads * TASKS_PER_THREAD)))


def paths_visible(paths: list[str]) -> str | None:
    """The first of ``paths`` that does not exist here (run on each Dask worker to check
    that a cluster batch's paths are shared, or that its objects can be read), or None.
    An output prefix in object storage is not asked: it exists once written to."""
    for path in paths:
        if storage.is_url(path):
            if not path.endswith("/") and storage.size(path) is None:
                return path
        elif not os.path.exists(path):
            return path
    return None


def _process_chunk(jobs: list[Job], options: Options, settings: Settings) -> list[Row]:
    return [process(job, options, settings) for job in jobs]


def _process_job(job: Job, options: Options, settings: Settings) -> Row:
    return process(job, options, settings)
