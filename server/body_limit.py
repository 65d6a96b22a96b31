"""Request bodies read through a counted limit: every byte that arrives is counted, chunked or
not, and the request is refused with 413 at the cap instead of being spooled to disk or memory.

A declared Content-Length over the cap is refused before the app runs. Otherwise the app's
`receive` raises `BodyTooLarge` (an HTTPException, so FastAPI's body parsing lets it through)
at the first chunk past the cap; the handler below answers {"error", "detail"} like every other
refusal, and uvicorn drops the rest of the body with the connection.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import error_body
from server.settings import ServerSettings

MULTIPART_OVERHEAD_BYTES = 64_000  # form fields and boundaries around the uploaded file
SDP_JSON_FACTOR = 2  # an offer's JSON body: the SDP escaped, plus options


class BodyTooLarge(HTTPException):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)
        self.reason = reason


def body_cap(settings: ServerSettings, method: str, path: str) -> tuple[int, str, str]:
    """(cap in bytes, refusal reason, what the cap is) for a request."""
    if method == "POST" and path == "/v1/avatars":
        cap = settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
        what = f"the upload limit is {settings.max_upload_bytes / 1e6:.1f} MB"
        return cap, "too_many_bytes", what
    if method == "POST" and path == "/v1/detect":
        cap = settings.max_detect_bytes + MULTIPART_OVERHEAD_BYTES
        what = f"the limit of /v1/detect is {settings.max_detect_bytes / 1e6:.1f} MB"
        return cap, "too_many_bytes", what
    if method == "POST" and path == "/v1/sessions":
        cap = SDP_JSON_FACTOR * settings.max_sdp_bytes
        return cap, "sdp_too_large", f"the SDP limit is {settings.max_sdp_bytes} bytes"
    cap = settings.max_json_bytes
    return cap, "too_many_bytes", f"the limit is {cap} bytes"


class BodyLimit:
    """Pure ASGI middleware (no buffering of its own): counts `http.request` bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings: ServerSettings = scope["app"].state.settings
        cap, reason, what = body_cap(settings, scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            metrics = scope["app"].state.metrics
            metrics.reject(reason)
            response = JSONResponse(
                error_body(reason, f"the request body is {declared} bytes; {what}"),
                status_code=413,
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(reason, f"the request body passed {cap} bytes; {what}")
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def install_body_limit(app: FastAPI) -> None:
    async def refuse(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLarge)
        request.app.state.metrics.reject(exc.reason)
        return JSONResponse(
            error_body(exc.reason, str(exc.detail)),
            status_code=413,
            headers={"Connection": "close"},
        )

    app.add_middleware(BodyLimit)
    app.add_exception_handler(BodyTooLarge, refuse)
