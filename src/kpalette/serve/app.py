"""The web app's routes: the page, its static files, the quantize API and the uploads API.

``POST /api/quantize`` takes a multipart form (``image`` and optional ``k`` (a number
or ``auto``), ``target_psnr``, ``max_bytes``, ``quality``, ``tune``, ``colorspace``,
``dither``, ``seed``,
``format``) and answers with the encoded image and its summary as JSON in the
``X-Kpalette-Summary`` header: one call, as with curl.

The page uses the uploads API: ``POST /api/uploads`` decodes and counts an image once
and answers its id; ``GET /api/uploads/{id}/...`` then refits that histogram at any k
(``preview``, ``original``, ``summary``, ``download``, ``palette``, ``choose``,
``cloud``), and ``DELETE /api/uploads/{id}`` forgets it.

Errors are JSON ``{"error": "..."}``: 400 for a bad parameter, 404 for an unknown
upload, 413 for an upload over the limit, 422 for a file that is not a readable image
or is over the pixel limit; bad input never gives a 500. The library's work runs in
worker threads (its loops release the GIL), never on the event loop: quick work (the
slider's previews) and long work (uploads, full-size results) have a pool each, as
many threads as cores, so a large upload does not hold up the slider.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from urllib.parse import quote

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..exceptions import ImageReadError, KPaletteError
from ..options import DEFAULT_MAX_PIXELS, OptionError, Options
from ..threads import default_threads, limited
from . import tasks
from .guard import LOOPBACK_HOSTS, BodyTooLarge, Guard
from .uploads import Upload, UploadStore, View

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD",
    "PREVIEW_SIDE",
    "WEB_FORMATS",
    "create_app",
]

#: Largest upload accepted, in bytes, unless the server is started with another.
DEFAULT_MAX_UPLOAD = 50_000_000
#: Bytes a form may hold beyond its file (its boundaries and text fields).
FORM_OVERHEAD = 65536
#: Formats the API answers in, and their media types.
WEB_FORMATS = {"png": "image/png", "gif": "image/gif", "webp": "image/webp"}
#: Longer side of a view unless the page asks for another (its picture's size).
PREVIEW_SIDE = 800
#: Palette files the page offers, and their media types.
PALETTE_MEDIA = {
    "gpl": "text/plain",
    "json": "application/json",
    "css": "text/css",
    "hex": "text/plain",
}
#: The page's own files, and their media types.
STATIC_MEDIA = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
#: What the page may load: only this server (no request leaves the machine).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class BadRequest(Exception):
    """A request the API refuses: ``status`` and a message for ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def _with_summary(data: bytes, media: str, summary: dict, **headers) -> Response:
    headers["X-Kpalette-Summary"] = json.dumps(summary, separators=(",", ":"))
    headers["Cache-Control"] = "no-store"
    return Response(data, media_type=media, headers=headers)


def _field(fields, name: str, kind):
    """A form or query field as ``kind`` (None when absent or empty; 400 when bad)."""
    text = fields.get(name)
    if text in (None, ""):
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise BadRequest(400, f"{name} must be {what}, got {text!r}") from None


def _options(fields, max_pixels: int) -> tuple[Options, str]:
    """The library's options and the output format from the fields (400 if bad)."""
    values: dict = {"max_pixels": max_pixels}
    k = fields.get("k")
    if k not in (None, ""):
        values["k"] = "auto" if k == "auto" else _field(fields, "k", int)
    for name, key, kind in (
        ("target_psnr", "target_psnr", float),
        ("max_bytes", "max_bytes", int),
        ("seed", "seed", int),
    ):
        if (value := _field(fields, name, kind)) is not None:
            values[key] = value
    if fields.get("quality") not in (None, ""):
        values["quality"] = fields["quality"]
    if fields.get("tune") not in (None, ""):
        values["tune"] = fields["tune"]
    if fields.get("colorspace") not in (None, ""):
        values["color_space"] = fields["colorspace"]
    dither = fields.get("dither")
    if dither not in (None, ""):
        named = {"true": 1.0, "on": 1.0, "false": 0.0, "off": 0.0}
        values["dither"] = named[dither] if dither in named else _field(fields, "dither", float)
    image_format = (fields.get("format") or "png").lower()
    if image_format not in WEB_FORMATS:
        raise BadRequest(
            400, f"format must be one of {', '.join(WEB_FORMATS)}, got {image_format!r}"
        )
    try:
        options = Options(**values)
    except OptionError as exc:  # said with the form's name for the field
        field = {"color_space": "colorspace"}.get(exc.field, exc.field)
        raise BadRequest(400, f"{field} must be {exc.requirement}, got {exc.value!r}") from None
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None
    if options.choice is None and options.n_colors > 256:
        raise BadRequest(400, f"k must be at most 256 for a palette image, got {options.n_colors}")
    return options, image_format


def _view(fields, shape) -> View:
    """The region and size the page shows (``side``, ``x``, ``y``, ``w``, ``h``)."""
    side = _field(fields, "side", int)
    try:
        return View.fitting(
            shape,
            PREVIEW_SIDE if side is None else side,
            *(_field(fields, name, int) for name in ("x", "y", "w", "h")),
        )
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None


def _attachment(name: str) -> str:
    """A Content-Disposition for a download named ``name`` (RFC 6266): the name as
    ASCII for old clients, and as UTF-8 in ``filename*`` when it is not ASCII."""
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@cache
def _static_file(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


@cache
def _plotly_js() -> tuple[bytes, bytes] | None:
    """Plotly's JavaScript, plain and gzipped, from the installed plotly (None if absent)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    data = get_plotlyjs().encode()
    return data, gzip.compress(data, 6)


@dataclass(frozen=True)
class ServerState:
    """What every request of one app shares: its uploads, its limits, and the two pools
    of worker threads (quick work: previews, the cloud; long work: uploads, full-size
    results, choices), so that a long fit never queues a preview behind it."""

    store: UploadStore
    max_upload: int
    max_pixels: int
    quick: CapacityLimiter
    long: CapacityLimiter
    #: Threads of the compiled loops shared by the requests working at once.
    threads: int = 1
    #: Requests working now (one counter, changed only on the event loop).
    working: list = field(default_factory=lambda: [0])


def _state(request: Request) -> ServerState:
    return request.app.state.kpalette


# -- the routes: module-level handlers over the app's state ---------------------------------
async def work(state: ServerState, pool: str, function, *args, source: str = ""):
    """``function(*args)`` in a worker thread of ``pool`` ("quick" or "long"), the
    library's errors as API errors: an unreadable image or one too large for memory
    422, a bad value, an unmet target or a format that cannot hold the image 400.
    ``source``: the uploaded file's name, which the messages say (the library read
    bytes, not a named file).

    The compiled loops' threads are shared out: a request gets the server's threads
    divided by the requests working at that moment (at least 1), so that requests at
    once do not oversubscribe the cores.
    """
    limiter = state.quick if pool == "quick" else state.long
    state.working[0] += 1
    share = max(1, state.threads // state.working[0])

    def run():
        with limited(share):
            return function(*args)

    try:
        return await anyio.to_thread.run_sync(run, limiter=limiter)
    except ImageReadError as exc:
        named = repr(source) if source else "the upload"
        raise BadRequest(422, str(exc).replace("<stdin>", named)) from None
    except MemoryError as exc:
        raise BadRequest(422, str(exc) or "the image needs more memory than there is") from None
    except (ValueError, KPaletteError) as exc:  # e.g. a format that cannot hold it
        raise BadRequest(400, str(exc)) from None
    finally:
        state.working[0] -= 1


async def read_upload(request: Request) -> tuple[bytes, str, dict]:
    """The uploaded image's bytes, its file name and the form's text fields."""
    max_upload = _state(request).max_upload
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_upload + FORM_OVERHEAD:
        raise BadRequest(413, f"upload over the limit of {max_upload:,} bytes")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except BodyTooLarge as exc:  # counted as it streamed (a chunked body has no length)
        raise BadRequest(413, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 (a malformed body is the client's)
        raise BadRequest(400, f"cannot read the form: {exc}") from None
    try:
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise BadRequest(400, "the form has no 'image' file")
        data = await upload.read()
        name = upload.filename or ""
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    finally:
        await form.close()
    if len(data) > max_upload:
        raise BadRequest(413, f"upload of {len(data):,} bytes over the limit of {max_upload:,}")
    if not data:
        raise BadRequest(422, "the uploaded file is empty")
    return data, name, fields


def upload_of(request: Request) -> Upload:
    upload = _state(request).store.get(request.path_params["upload_id"])
    if upload is None:
        raise BadRequest(404, "no such upload (unknown, or expired: upload the image again)")
    return upload


def numbered(request: Request, fields) -> tuple[Options, str]:
    """The options of a request on an upload: k must be a number there."""
    options, image_format = _options(fields, _state(request).max_pixels)
    if options.choice is not None:
        raise BadRequest(400, "give k as a number here (use /choose for auto and targets)")
    return options, image_format


def api(handler):
    """A route whose BadRequest becomes its JSON error."""

    async def route(request: Request) -> Response:
        try:
            return await handler(request)
        except BadRequest as exc:
            return _error(exc.status, str(exc))

    return route


@api
async def page(request: Request) -> Response:
    return Response(
        _static_file("index.html"),
        media_type=STATIC_MEDIA["index.html"],
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


@api
async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "plotly.min.js":
        plotly = _plotly_js()
        if plotly is None:
            raise BadRequest(404, "the 3-D cloud needs plotly: pip install 'kpalette[web]'")
        headers = {"Cache-Control": "max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(plotly[1], media_type="text/javascript", headers=headers)
        return Response(plotly[0], media_type="text/javascript", headers=headers)
    if name not in STATIC_MEDIA or name == "index.html":
        raise BadRequest(404, f"no such file: {name!r}")
    return Response(_static_file(name), media_type=STATIC_MEDIA[name])


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, a method the route lacks) as JSON."""
    assert isinstance(exc, HTTPException)  # the only class it is registered for
    if exc.status_code == 404:
        message = f"no such page or API route: {request.url.path}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path} (it takes {allowed})"
    else:
        message = exc.detail
    response = _error(exc.status_code, message)
    response.headers.update(exc.headers or {})
    return response


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@api
async def api_quantize(request: Request) -> Response:
    data, name, fields = await read_upload(request)
    options, image_format = _options(fields, _state(request).max_pixels)
    encoded, summary = await work(
        _state(request), "long", tasks.quantized, data, options, image_format, source=name
    )
    return _with_summary(encoded, WEB_FORMATS[image_format], summary)


@api
async def new_upload(request: Request) -> Response:
    data, name, _ = await read_upload(request)
    upload = await work(
        _state(request),
        "long",
        tasks.counted_upload,
        data,
        name,
        _state(request).max_pixels,
        source=name,
    )
    upload_id = _state(request).store.add(upload)
    height, width = upload.prepared.shape
    return JSONResponse(
        {
            "id": upload_id,
            "name": name,
            "width": width,
            "height": height,
            "bytes": upload.data_bytes,
            "colors": upload.prepared.histogram.n_colors,
            "frames": upload.frames,
        },
        status_code=201,
    )


@api
async def forget(request: Request) -> Response:
    if not _state(request).store.remove(request.path_params["upload_id"]):
        raise BadRequest(404, "no such upload (unknown, or expired)")
    return Response(status_code=204)


@api
async def original(request: Request) -> Response:
    upload = upload_of(request)
    view = _view(request.query_params, upload.prepared.shape)
    data = await work(_state(request), "quick", tasks.original_png, upload, view)
    headers = {"X-Kpalette-View": json.dumps(view.as_dict()), "Cache-Control": "no-store"}
    return Response(data, media_type="image/png", headers=headers)


@api
async def preview(request: Request) -> Response:
    upload = upload_of(request)
    options, _ = numbered(request, request.query_params)
    view = _view(request.query_params, upload.prepared.shape)
    data, numbers = await work(_state(request), "quick", tasks.preview_png, upload, options, view)
    return _with_summary(data, "image/png", numbers)


@api
async def summary(request: Request) -> Response:
    upload = upload_of(request)
    options, image_format = numbered(request, request.query_params)
    _, numbers = await work(
        _state(request), "long", tasks.full_result, upload, options, image_format
    )
    return JSONResponse(numbers, headers={"Cache-Control": "no-store"})


@api
async def download(request: Request) -> Response:
    upload = upload_of(request)
    options, image_format = numbered(request, request.query_params)
    data, numbers = await work(
        _state(request), "long", tasks.full_result, upload, options, image_format
    )
    disposition = _attachment(numbers["file_name"])
    return _with_summary(
        data, WEB_FORMATS[image_format], numbers, **{"Content-Disposition": disposition}
    )


@api
async def palette(request: Request) -> Response:
    upload = upload_of(request)
    fields = dict(request.query_params)
    fmt = fields.pop("format", "gpl") or "gpl"
    if fmt not in PALETTE_MEDIA:
        raise BadRequest(400, f"format must be one of {', '.join(PALETTE_MEDIA)}, got {fmt!r}")
    options, _ = numbered(request, fields)
    text = await work(_state(request), "long", tasks.palette_text, upload, options, fmt)
    name = tasks.file_name(upload.name, options.n_colors, fmt).replace(".", "-palette.", 1)
    return Response(
        text,
        media_type=PALETTE_MEDIA[fmt],
        headers={"Content-Disposition": _attachment(name)},
    )


@api
async def choose(request: Request) -> Response:
    upload = upload_of(request)
    options, image_format = _options(request.query_params, _state(request).max_pixels)
    if options.choice is None:
        raise BadRequest(400, "give k=auto, target_psnr, max_bytes or quality")
    return JSONResponse(
        await work(_state(request), "long", tasks.chosen_k, upload, options, image_format)
    )


@api
async def cloud(request: Request) -> Response:
    upload = upload_of(request)
    options, _ = numbered(request, request.query_params)
    return JSONResponse(await work(_state(request), "quick", tasks.cloud_data, upload, options))


#: Every route of the app.
ROUTES = [
    Route("/", page),
    Route("/static/{name}", static),
    Route("/healthz", health),
    Route("/api/quantize", api_quantize, methods=["POST"]),
    Route("/api/uploads", new_upload, methods=["POST"]),
    Route("/api/uploads/{upload_id}", forget, methods=["DELETE"]),
    Route("/api/uploads/{upload_id}/original", original),
    Route("/api/uploads/{upload_id}/preview", preview),
    Route("/api/uploads/{upload_id}/summary", summary),
    Route("/api/uploads/{upload_id}/download", download),
    Route("/api/uploads/{upload_id}/palette", palette),
    Route("/api/uploads/{upload_id}/choose", choose),
    Route("/api/uploads/{upload_id}/cloud", cloud),
]


def create_app(
    *,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    store: UploadStore | None = None,
    threads: int | None = None,
    allowed_hosts=LOOPBACK_HOSTS,
) -> Starlette:
    """The kpalette web app.

    Parameters
    ----------
    max_upload : int
        Largest upload in bytes (413 above it).
    max_pixels : int
        Largest image in pixels (422 above it).
    store : UploadStore, optional
        Where uploads are kept (default: 16 uploads, 2 GB, 30 minutes).
    threads : int, optional
        Worker threads of each pool (quick and long work), and the compiled loops'
        threads that the requests working at once share; default:
        :func:`kpalette.threads.default_threads`.
    allowed_hosts : iterable of str
        Host names answered (default: the loopback names); others get a 400, against
        DNS rebinding. ``"*"`` answers any.
    """
    workers = threads or default_threads()
    state = ServerState(
        store=UploadStore() if store is None else store,
        max_upload=max_upload,
        max_pixels=max_pixels,
        quick=CapacityLimiter(workers),
        long=CapacityLimiter(workers),
        threads=workers,
    )
    guard = Middleware(Guard, allowed_hosts=allowed_hosts, max_body=max_upload + FORM_OVERHEAD)
    app = Starlette(
        routes=ROUTES, middleware=[guard], exception_handlers={HTTPException: http_error}
    )
    app.state.kpalette = state
    return app
