"""The FastAPI app: web client at /, health and metrics, /v1 avatars and sessions.

`create_app(settings)` builds everything from one ServerSettings. The lifespan owns the avatar
store, the engine and the sessions: it warms the engine up off the event loop (/readyz turns true
when that inference is done) and closes every session on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from engine.avatar.store import AvatarStore
from engine.avatar.worker import PreparationWorker
from engine.contract import SessionEngine
from engine.stream.heap import freeze_long_lived
from server import admission
from server.api import audit as audit_api
from server.api import avatars as avatars_api
from server.api import detect as detect_api
from server.api import say
from server.api import sessions as sessions_api
from server.api import tokens as tokens_api
from server.body_limit import install_body_limit
from server.drain import install_drain
from server.errors import error_body, install_error_handlers
from server.live_sessions import SessionManager
from server.log_redaction import install_log_redaction
from server.metrics import Metrics
from server.openapi import install_openapi, new_app
from server.provenance.audit import AuditLog
from server.provenance.signing import signing_identity
from server.settings import ServerSettings
from server.tokens import Grant, TokenStore, grant_dependency
from server.transport.webrtc import configure_ice_loopback

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
API_TEXT = (
    "A talking avatar over WebRTC. Credentials (Authorization: Bearer): the API key for servers, "
    "client tokens from POST /v1/tokens, and the session token that POST /v1/sessions returns, "
    "which every /v1/sessions/{id} route needs. The agent speech websocket, "
    "WS /v1/sessions/{id}/speech, is described in the README (Speech websocket)."
)


def create_app(
    settings: ServerSettings | None = None, engine: SessionEngine | None = None
) -> FastAPI:
    """The app; pass `engine` to share one warmed-up StreamEngine (the app then does not own it)."""
    settings = settings or ServerSettings()
    metrics = Metrics()
    app = new_app(title="Gioconda", version="1", description=API_TEXT, lifespan=_lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.given_engine = engine
    app.state.ready = asyncio.Event()
    app.state.warm_up_error = None
    app.state.default_avatar = settings.default_avatar
    app.state.voice = None  # loaded after warm-up (server.api.say.voice_of)
    app.state.voice_lock = asyncio.Lock()
    app.state.tokens = TokenStore()
    install_error_handlers(app, metrics.reject)
    install_body_limit(app)
    install_drain(app)  # outside the body limit: a draining server reads no offer
    install_log_redaction()
    install_openapi(app)
    avatar_grants = grant_dependency(Grant.AVATARS_READ, Grant.AVATARS_WRITE)
    app.include_router(avatars_api.router, dependencies=[avatar_grants])
    app.include_router(sessions_api.router)
    app.include_router(say.router)
    app.include_router(tokens_api.router)
    app.include_router(detect_api.router)
    app.include_router(audit_api.router)
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
    # Uploads are prepared in a separate, niced process, started by the first upload (its
    # start-up is not counted against that upload's time limit).
    preparation = PreparationWorker()
    store = AvatarStore(
        settings.data_dir,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_upload_pixels,
        preparer=preparation.prepare,
    )
    owned = app.state.given_engine is None
    engine: SessionEngine = app.state.given_engine or _new_engine(settings)
    app.state.store = store
    app.state.engine = engine
    app.state.audit = AuditLog(settings.data_dir, settings.audit_retention_days)
    # The C2PA signing chain is made at first start (renders sign with it; see signing.py).
    signing_identity(settings.data_dir, settings.c2pa_cert, settings.c2pa_key, settings.c2pa_alg)
    app.state.metrics.watch(engine)
    app.state.sessions = SessionManager(settings, engine, store, app.state.metrics, app.state.audit)
    warm_up = asyncio.get_running_loop().create_task(_warm_up(app))
    try:
        yield
    finally:
        warm_up.cancel()
        await asyncio.to_thread(preparation.close)
        await app.state.sessions.close_all()
        if owned:
            await asyncio.to_thread(engine.close)


def _new_engine(settings: ServerSettings) -> SessionEngine:
    from engine.backends.base import BackendConfig, BackendName, Precision
    from engine.render.renderer import set_default_backend_config
    from engine.stream.engine import StreamEngine  # loads the models

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
    engine: SessionEngine = StreamEngine(
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
    # Full garbage collections must not walk the models during calls (engine/stream/heap.py).
    log.info("%d long-lived objects frozen", freeze_long_lived())
    app.state.ready.set()
    log.info("ready")
    try:
        await say.voice_of(app.state)  # so the first POST /say does not wait for it
    except Exception:
        log.exception("the built-in voice cannot run; POST /say will answer 503")
    freeze_long_lived(collect=False)  # the voice's model too; calls may be live by now


async def _healthz() -> dict[str, Any]:
    return {"ok": True}


async def _readyz(request: Request) -> Response:
    state = request.app.state
    if state.ready.is_set():
        live = len(state.sessions)
        budget = state.settings.admit_max_load
        full = admission.refusal(state.engine, admission.PROBE_FPS, live, budget)
        if live >= state.settings.max_sessions:
            full = f"the server is at its limit of {live} sessions"
        if full is not None:  # alive and well, but send new calls elsewhere
            return JSONResponse({"ready": False, **error_body("server_full", full)}, 503)
        return JSONResponse({"ready": True})
    reason = "warm_up_failed" if state.warm_up_error else "not_ready"
    return JSONResponse(
        {"ready": False, **error_body(reason, state.warm_up_error or "warming up")}, 503
    )


async def _metrics(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=metrics.content_type)
