"""Every refusal is an engine.errors exception with a reason code; this is the one place that turns
reason codes into HTTP statuses and JSON bodies {"error": reason, "detail": message}."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from engine.errors import EngineError

log = logging.getLogger(__name__)

# reason -> HTTP status; a reason not listed is a 400 (the request was refused as given).
REASON_STATUS: dict[str, int] = {
    "unauthorized": 401,
    "forbidden": 403,
    "too_many_tokens": 503,
    "draining": 503,
    "not_found": 404,
    "session_not_found": 404,
    "builtin": 403,
    "audit_needs_api_key": 403,
    "too_many_bytes": 413,
    "sdp_too_large": 413,
    "too_many_sessions": 503,
    "not_ready": 503,
    "session_failed": 500,
    "text_too_long": 413,
    "voice_unavailable": 503,
    "server_full": 503,
    "prepare_busy": 503,
    "prepare_timeout": 503,
    "prepare_failed": 500,
    "prepare_unavailable": 501,  # no mediapipe here (an agent environment): docs/agents.md
}
# reason -> seconds a client should wait before it tries again (the Retry-After header)
RETRY_AFTER_S: dict[str, int] = {
    "too_many_sessions": 30,
    "server_full": 30,
    "prepare_busy": 5,
    "prepare_timeout": 30,
}


class ServerError(EngineError):
    """A refusal raised by the server layer itself (limits, unknown sessions, auth)."""

    reason = "bad_request"


def status_for(reason: str) -> int:
    return REASON_STATUS.get(reason, 400)


def retry_headers(reason: str) -> dict[str, str]:
    retry_s = RETRY_AFTER_S.get(reason)
    return {} if retry_s is None else {"Retry-After": str(retry_s)}


def error_body(reason: str, detail: str) -> dict[str, str]:
    return {"error": reason, "detail": detail}


def install_error_handlers(app: FastAPI, on_rejection: Callable[[str], None] | None = None) -> None:
    async def engine_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EngineError)
        status = status_for(exc.reason)
        if on_rejection is not None:
            on_rejection(exc.reason)
        log.info("%s %s -> %d %s: %s", request.method, request.url.path, status, exc.reason, exc)
        return JSONResponse(
            error_body(exc.reason, str(exc)), status_code=status, headers=retry_headers(exc.reason)
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if on_rejection is not None:
            on_rejection("bad_request")
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse(error_body("bad_request", detail), status_code=400)

    app.add_exception_handler(EngineError, engine_error)
    app.add_exception_handler(RequestValidationError, validation_error)
