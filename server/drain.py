"""Graceful drain on SIGTERM (what an orchestrator sends before it stops a container).

The first SIGTERM starts the drain: /readyz turns false (so a load balancer stops routing here),
new offers get 503 + Retry-After, and every live call is told over its control channel
(`{"type": "draining", "deadline_s": N}`) while it keeps streaming. The server exits when the last
call has ended or `drain_timeout_s` has passed, whichever is first (the lifespan then closes what
is left). A second SIGTERM, or SIGINT, exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from server.errors import error_body

log = logging.getLogger(__name__)

class Drain:
    """Whether this server is draining, and until when (time.monotonic())."""

    def __init__(self) -> None:
        self.deadline_s: float | None = None

    @property
    def draining(self) -> bool:
        return self.deadline_s is not None

    def retry_after_s(self) -> int:
        left = (self.deadline_s or 0.0) - time.monotonic()
        return max(1, math.ceil(left))


class DrainGate:
    """While draining: /readyz is 503 and POST /v1/sessions is 503 with Retry-After."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drain: Drain = scope["app"].state.drain
        if scope["type"] == "http" and drain.draining:
            detail = "the server is shutting down; live calls finish, new ones go elsewhere"
            if scope["path"] == "/readyz":
                body = {"ready": False, **error_body("draining", detail)}
                await JSONResponse(body, 503)(scope, receive, send)
                return
            if scope["path"] == "/v1/sessions" and scope["method"] == "POST":
                scope["app"].state.metrics.reject("draining")
                headers = {"Retry-After": str(drain.retry_after_s())}
                response = JSONResponse(error_body("draining", detail), 503, headers=headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_drain(app: FastAPI) -> None:
    app.state.drain = Drain()
    app.add_middleware(DrainGate)


class DrainingServer(uvicorn.Server):
    """uvicorn.Server whose first SIGTERM drains `app` instead of closing its calls."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_timeout_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_timeout_s = drain_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drainer: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        drain: Drain = self._app.state.drain
        if sig != signal.SIGTERM or self._loop is None or self._drain_timeout_s <= 0:
            super().handle_exit(sig, frame)
            return
        if drain.draining:  # the second SIGTERM: now
            # Not force_exit: that would skip the lifespan, whose closing of the sessions is
            # what lets their engine threads, and so the process, end.
            log.warning("second SIGTERM: closing live calls and exiting now")
            self.should_exit = True
            return
        drain.deadline_s = time.monotonic() + self._drain_timeout_s
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        assert self._loop is not None
        sessions = self._app.state.sessions
        live = sessions.live()
        log.info(
            "SIGTERM: draining %d live call(s) for up to %.0f s (SIGTERM again to exit now)",
            len(live),
            self._drain_timeout_s,
        )
        for session in live:
            session.notify({"type": "draining", "deadline_s": self._drain_timeout_s})
        self._drainer = self._loop.create_task(self._exit_when_drained())

    async def _exit_when_drained(self) -> None:
        drain: Drain = self._app.state.drain
        sessions = self._app.state.sessions
        assert drain.deadline_s is not None
        while (live := sessions.live()) and (left_s := drain.deadline_s - time.monotonic()) > 0:
            waiters = [asyncio.ensure_future(session.closed.wait()) for session in live]
            await asyncio.wait(waiters, timeout=left_s)
            for waiter in waiters:
                waiter.cancel()
        if len(sessions):
            log.info("drain timeout: closing %d call(s)", len(sessions))
        else:
            log.info("drained: no live calls")
        self.should_exit = True
