"""The web app's routes: the page, a health check and the quantize API.

``POST /api/quantize`` takes a multipart form (``image`` and optional ``k``, ``auto``
via ``k=auto``, ``target_psnr``, ``max_bytes``, ``colorspace``, ``dither``, ``seed``,
``format``) and answers with the encoded image and its summary as JSON in the
``X-Kpalette-Summary`` header. Errors are JSON ``{"error": "..."}``: 400 for a bad
parameter, 413 for an upload over the limit, 422 for a file that is not a readable
image or is over the pixel limit; bad input never gives a 500.
"""

from __future__ import annotations

import json

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..choose import KSweep
from ..exceptions import ImageReadError
from ..io import OUTPUT_FORMATS
from ..options import Options
from ..quantize import quantize_for
from .uploads import Upload, UploadStore

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD", "WEB_FORMATS", "create_app"]

#: Largest upload accepted, in bytes, unless the server is started with another.
DEFAULT_MAX_UPLOAD = 50_000_000
#: Largest image decoded, in pixels.
DEFAULT_MAX_PIXELS = 50_000_000
#: Formats the API answers in, and their media types.
WEB_FORMATS = {"png": "image/png", "gif": "image/gif", "webp": "image/webp"}

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kpalette</title></head>
<body>
<h1>kpalette</h1>
<form id="form" method="post" action="/api/quantize" enctype="multipart/form-data">
<label>Image <input id="file" type="file" name="image" accept="image/*"></label>
<label>Colours <input id="k" type="range" name="k" min="2" max="256" value="16"></label>
<button id="download" type="submit">Quantize</button>
</form>
<div id="summary"></div>
</body></html>
"""


class BadRequest(Exception):
    """A request the API refuses: ``status`` and a message for ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _work(function, *args):
    """``function(*args)`` in the thread pool, the library's errors as API errors: an
    unreadable image or one too large for memory 422, a bad value or an unmet target 400."""
    try:
        return await run_in_threadpool(function, *args)
    except ImageReadError as exc:
        raise BadRequest(422, str(exc).replace("<stdin>", "the upload")) from None
    except MemoryError as exc:
        raise BadRequest(422, str(exc) or "the image needs more memory than there is") from None
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def _options(form, max_pixels: int) -> tuple[Options, str]:
    """The library's options and the output format from the form's fields (400 if bad)."""
    fields: dict = {"max_pixels": max_pixels}
    try:
        k = form.get("k")
        if k not in (None, ""):
            fields["k"] = "auto" if k == "auto" else int(k)
        if form.get("target_psnr") not in (None, ""):
            fields["target_psnr"] = float(form["target_psnr"])
        if form.get("max_bytes") not in (None, ""):
            fields["max_bytes"] = int(form["max_bytes"])
        if form.get("colorspace") not in (None, ""):
            fields["color_space"] = form["colorspace"]
        if form.get("dither") not in (None, ""):
            dither = form["dither"]
            fields["dither"] = {"true": 1.0, "false": 0.0}.get(dither)
            if fields["dither"] is None:
                fields["dither"] = float(dither)
        if form.get("seed") not in (None, ""):
            fields["seed"] = int(form["seed"])
    except ValueError as exc:
        raise BadRequest(400, f"bad parameter: {exc}") from None
    image_format = (form.get("format") or "png").lower()
    if image_format not in WEB_FORMATS:
        raise BadRequest(
            400, f"format must be one of {', '.join(WEB_FORMATS)}, got {image_format!r}"
        )
    try:
        options = Options(**fields)
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None
    if options.choice is None and options.n_colors > 256:
        raise BadRequest(400, f"k must be at most 256 for a palette image, got {options.n_colors}")
    return options, image_format


def _quantize(data: bytes, options: Options, image_format: str) -> tuple[bytes, dict]:
    """The library's work (in a worker thread): the encoded image and its summary."""
    fmt = OUTPUT_FORMATS[image_format]
    result = quantize_for(data, fmt, options=options)
    encoded = result.file_bytes(fmt.name, truecolor=not fmt.palette)
    summary = result.summary(with_ssim=False)
    summary["format"] = image_format
    return encoded, summary


#: Longer side of the preview the slider refits are mapped onto.
PREVIEW_SIDE = 800


def _prepare_upload(data: bytes, max_pixels: int):
    """(in a worker thread) An upload decoded and counted once, with its preview."""
    from ..quantize import prepare

    options = Options(max_pixels=max_pixels)
    prepared = prepare(data, options)
    step = max(1, -(-max(prepared.shape) // PREVIEW_SIDE))
    preview = np.ascontiguousarray(prepared.original[::step, ::step])
    return Upload(data_bytes=len(data), sweep=KSweep(prepared, options=options), preview=preview)


def _preview(upload: Upload, options: Options) -> tuple[bytes, dict]:
    """(in a worker thread) The preview at ``options.k`` as a PNG, and its numbers."""
    from ..io import encode_truecolor

    image, numbers = upload.preview_image(options, options.n_colors)
    return encode_truecolor(image, "PNG"), numbers


def _download(upload: Upload, options: Options, image_format: str) -> tuple[bytes, dict]:
    """(in a worker thread) The full-size result at ``options.k`` in ``image_format``."""
    fmt = OUTPUT_FORMATS[image_format]
    sweep = upload.sweep_for(options)
    result = sweep.result(options.n_colors)
    encoded = result.file_bytes(fmt.name, truecolor=not fmt.palette)
    summary = result.summary(with_ssim=False)
    summary["input_bytes"] = upload.data_bytes
    summary["format"] = image_format
    return encoded, summary


def create_app(
    *,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    store: UploadStore | None = None,
) -> Starlette:
    """The kpalette web app.

    Parameters
    ----------
    max_upload : int
        Largest upload in bytes (413 above it).
    max_pixels : int
        Largest image in pixels (422 above it).
    store : UploadStore, optional
        Where uploads are kept (default: 16 uploads, 2 GB of pixels, 30 minutes).
    """
    store = UploadStore() if store is None else store

    async def read_upload(request: Request) -> tuple[bytes, dict]:
        """The uploaded image's bytes and the form's text fields (400, 413, 422 if bad)."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_upload + 65536:
            raise BadRequest(413, f"upload over the limit of {max_upload:,} bytes")
        try:
            form = await request.form(max_files=1, max_fields=20)
        except Exception as exc:  # noqa: BLE001 (a malformed body is the client's)
            raise BadRequest(400, f"cannot read the form: {exc}") from None
        try:
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise BadRequest(400, "the form has no 'image' file")
            data = await upload.read()
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
        finally:
            await form.close()
        if len(data) > max_upload:
            raise BadRequest(413, f"upload of {len(data):,} bytes over the limit of {max_upload:,}")
        if not data:
            raise BadRequest(422, "the uploaded file is empty")
        return data, fields

    async def new_upload(request: Request) -> Response:
        try:
            data, _ = await read_upload(request)
            upload = await _work(_prepare_upload, data, max_pixels)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        upload_id = store.add(upload)
        height, width = upload.sweep.original.shape[:2]
        return JSONResponse(
            {
                "id": upload_id,
                "width": width,
                "height": height,
                "bytes": upload.data_bytes,
                "colors": upload.sweep.prepared.histogram.n_colors,
            },
            status_code=201,
        )

    async def upload_result(request: Request) -> Response:
        upload = store.get(request.path_params["upload_id"])
        if upload is None:
            return _error(404, "no such upload (unknown, or expired)")
        try:
            options, image_format = _options(request.query_params, max_pixels)
            if options.choice is not None:
                raise BadRequest(400, "give k as a number here")
            if request.url.path.endswith("/preview"):
                data, numbers = await _work(_preview, upload, options)
                media = "image/png"
            else:
                data, numbers = await _work(_download, upload, options, image_format)
                media = WEB_FORMATS[image_format]
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        return Response(
            data,
            media_type=media,
            headers={"X-Kpalette-Summary": json.dumps(numbers, separators=(",", ":"))},
        )

    async def page(request: Request) -> Response:
        return HTMLResponse(_PAGE)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def api_quantize(request: Request) -> Response:
        try:
            data, fields = await read_upload(request)
            options, image_format = _options(fields, max_pixels)
            encoded, summary = await _work(_quantize, data, options, image_format)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        return Response(
            encoded,
            media_type=WEB_FORMATS[image_format],
            headers={"X-Kpalette-Summary": json.dumps(summary, separators=(",", ":"))},
        )

    return Starlette(
        routes=[
            Route("/", page),
            Route("/healthz", health),
            Route("/api/quantize", api_quantize, methods=["POST"]),
            Route("/api/uploads", new_upload, methods=["POST"]),
            Route("/api/uploads/{upload_id}/preview", upload_result),
            Route("/api/uploads/{upload_id}/download", upload_result),
        ]
    )
