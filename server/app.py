"""The FastAPI app: web client at /, health and metrics, /v1 avatars and sessions.

`create_app(settings)` builds everything from one ServerSettings. The lifespan owns the avatar
store, the engine and the sessions: it warms the engine up off the event loop (/readyz turns true
when that inference is done) and closes every session on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from engine.avatar.store import AvatarStore
from server.api import avatars as avatars_api
from server.api import sessions as sessions_api
from server.auth import authorized
from server.errors import error_body, install_error_handlers, status_for
from server.live_sessions import SessionManager, StreamEngine
from server.metrics import Metrics
from server.settings import ServerSettings
from server.transport.webrtc import configure_ice_loopback

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
MULTIPART_OVERHEAD_BYTES = 64_000  # form fields and boundaries around the uploaded file


def create_app(
    settings: ServerSettings | None = None, engine: StreamEngine | None = None
) -> FastAPI:
    """The app; pass `engine` to share one warmed-up StreamEngine (the app then does not own it)."""
    settings = settings or ServerSettings()
    metrics = Metrics()
    app = FastAPI(title="Gioconda", version="1", lifespan=_lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.given_engine = engine
    app.state.ready = asyncio.Event()
    app.state.warm_up_error = None
    app.state.default_avatar = settings.default_avatar
    install_error_handlers(app, metrics.reject)
    app.middleware("http")(_guard_v1)
    app.include_router(avatars_api.router)
    app.include_router(sessions_api.router)
    app.add_api_route("/healthz", _healthz)
    app.add_api_route("/readyz", _readyz)
    app.add_api_route("/metrics", _metrics)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ServerSettings = app.state.settings
    configure_ice_loopback(settings.ice_loopback)
    store = AvatarStore(
        settings.data_dir,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_upload_pixels,
    )
    owned = app.state.given_engine is None
    engine: StreamEngine = app.state.given_engine or _new_engine(settings)
    app.state.store = store
    app.state.engine = engine
    app.state.sessions = SessionManager(settings, engine, store, app.state.metrics)
    warm_up = asyncio.get_running_loop().create_task(_warm_up(app))
    try:
        yield
    finally:
        warm_up.cancel()
        await app.state.sessions.close_all()
        if owned:
            await asyncio.to_thread(engine.close)


def _new_engine(settings: ServerSettings) -> StreamEngine:
    from engine.backends.base import BackendConfig, BackendName, Precision
    from engine.render.renderer import set_default_backend_config
    from engine.stream.engine import StreamEngine as EngineImpl  # loads the models

    config = BackendConfig(
        backend=BackendName(settings.backend),
        artifacts_dir=settings.export_dir,
        precision=Precision(settings.precision),
        max_batch=settings.max_batch,
        threads=settings.engine_threads,
        stack_avatars=settings.stack_avatars,
    )
    set_default_backend_config(config)
    motion = settings.motion_backend
    engine: StreamEngine = EngineImpl(
        threads=settings.engine_threads,
        weights=settings.motion_weights,
        motion_backend=replace(config, backend=BackendName(motion)) if motion else None,
        workers=settings.engine_workers,
    )
    return engine


async def _warm_up(app: FastAPI) -> None:
    """Prepare the default avatar and run one inference, off the event loop."""
    settings: ServerSettings = app.state.settings
    try:
        avatar = await asyncio.to_thread(app.state.store.load, settings.default_avatar)
        if settings.warm_up:
            await asyncio.to_thread(app.state.engine.warm_up, avatar)
    except Exception as exc:
        log.exception("warm-up failed; /readyz stays false")
        app.state.warm_up_error = str(exc)
        return
    app.state.ready.set()
    log.info("ready")


async def _guard_v1(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """API key and upload size, checked before any request body is read."""
    path = request.url.path
    if path.startswith("/v1/"):
        settings: ServerSettings = request.app.state.settings
        if not authorized(request, settings.api_key):
            return _refuse(request, "unauthorized", "this server needs an API key")
        length = request.headers.get("content-length") or "0"
        declared = int(length) if length.isdigit() else 0  # the body parser judges the rest
        cap = settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
        if path == "/v1/avatars" and request.method == "POST" and declared > cap:
            return _refuse(
                request,
                "too_many_bytes",
                f"the upload is {declared / 1e6:.1f} MB; the limit is "
                f"{settings.max_upload_bytes / 1e6:.1f} MB",
            )
        if path == "/v1/sessions" and declared > settings.max_sdp_bytes * 2:
            return _refuse(
                request,
                "sdp_too_large",
                f"the request is {declared} bytes; the SDP limit is {settings.max_sdp_bytes}",
            )
    return await call_next(request)


def _refuse(request: Request, reason: str, detail: str) -> Response:
    request.app.state.metrics.reject(reason)
    return JSONResponse(error_body(reason, detail), status_code=status_for(reason))


async def _healthz() -> dict[str, Any]:
    return {"ok": True}


async def _readyz(request: Request) -> Response:
    state = request.app.state
    if state.ready.is_set():
        return JSONResponse({"ready": True})
    reason = "warm_up_failed" if state.warm_up_error else "not_ready"
    return JSONResponse(
        {"ready": False, **error_body(reason, state.warm_up_error or "warming up")}, 503
    )


async def _metrics(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=metrics.content_type)
