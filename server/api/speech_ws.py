"""The agent speech websocket, `WS /v1/sessions/{id}/speech` (DESIGN.md, "Server surface").

Client -> server: `{"type":"start","sample_rate":N}`, binary int16 mono PCM frames,
`{"type":"end"}`, `{"type":"clear"}`. Server -> client: `playback_started`,
`playback_finished {position_s, interrupted}`, and `error {error, detail}` for a message that was
refused while the connection stays usable. A message over the size cap or a client over the rate
cap is closed with a reason (1009 / 1008); an unknown session is closed with 4404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import MutableMapping
from typing import Any

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect

from engine.errors import EngineError
from server.errors import ServerError
from server.live_sessions import Session, SessionManager
from server.settings import ServerSettings

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_NOT_FOUND = 4404
CLOSE_UNAUTHORIZED = 4401
MAX_REASON_BYTES = 120  # websocket close reasons are capped at 123 bytes


class TokenBucket:
    """`rate_per_s` sustained with bursts up to `burst` messages."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self._rate = rate_per_s
        self._burst = burst
        self._tokens = burst
        self._last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class SpeechProtocolError(Exception):
    """The connection must close: (code, reason)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SpeechConnection:
    def __init__(self, ws: WebSocket, session: Session, settings: ServerSettings) -> None:
        self._ws = ws
        self._session = session
        self._settings = settings
        self._bucket = TokenBucket(
            settings.ws_max_messages_per_s, 2 * settings.ws_max_messages_per_s
        )
        self._sample_rate_hz: int | None = None

    async def serve(self) -> None:
        events = self._session.subscribe()
        sender = asyncio.get_running_loop().create_task(self._send_events(events))
        try:
            await self._receive_loop()
        finally:
            self._session.unsubscribe(events)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            # An agent that vanishes mid-segment must not leave the segment open forever.
            if self._sample_rate_hz is not None and not self._session.closed.is_set():
                with contextlib.suppress(EngineError):  # the stream may be closing meanwhile
                    self._session.stream.end_segment()

    async def _receive_loop(self) -> None:
        session_closed = asyncio.get_running_loop().create_task(self._session.closed.wait())
        try:
            while True:
                receive = asyncio.ensure_future(self._ws.receive())
                done, _ = await asyncio.wait(
                    {receive, session_closed}, return_when=asyncio.FIRST_COMPLETED
                )
                if receive not in done:
                    receive.cancel()
                    await self._ws.close(1001, "session closed")
                    return
                message = receive.result()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message)
        except SpeechProtocolError as exc:
            log.info("speech websocket of %s closed: %s", self._session.id, exc.reason)
            await self._ws.close(exc.code, exc.reason[:MAX_REASON_BYTES])
        except WebSocketDisconnect:
            return
        finally:
            session_closed.cancel()

    async def _handle(self, message: MutableMapping[str, Any]) -> None:
        data: bytes | str | None = message.get("bytes") or message.get("text")
        if data is None:
            return
        if len(data) > self._settings.ws_max_message_bytes:
            raise SpeechProtocolError(
                CLOSE_TOO_BIG,
                f"message_too_big: {len(data)} bytes, limit {self._settings.ws_max_message_bytes}",
            )
        if not self._bucket.take():
            raise SpeechProtocolError(
                CLOSE_POLICY,
                f"rate_limited: over {self._settings.ws_max_messages_per_s:g} messages/s",
            )
        self._session.touch()
        try:
            if isinstance(data, bytes):
                self._on_pcm(data)
            else:
                self._on_command(data)
        except EngineError as exc:
            await self._ws.send_json({"type": "error", "error": exc.reason, "detail": str(exc)})

    def _on_pcm(self, data: bytes) -> None:
        if self._sample_rate_hz is None:
            raise ServerError(
                'send {"type":"start","sample_rate":N} before audio', "speech_not_started"
            )
        if len(data) % 2:
            raise ServerError("PCM frames are int16: an even number of bytes", "bad_audio")
        samples = np.frombuffer(data, dtype="<i2")
        self._session.stream.push_audio(samples, self._sample_rate_hz)

    def _on_command(self, text: str) -> None:
        try:
            command = json.loads(text)
            kind = command["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ServerError(
                f"a text message is a JSON object with a type ({exc})", "bad_message"
            ) from exc
        stream = self._session.stream
        if kind == "start":
            self._sample_rate_hz = self._checked_rate(command.get("sample_rate"))
        elif kind == "end":
            stream.end_segment()
        elif kind == "clear":
            stream.clear()
        else:
            raise ServerError(
                f"unknown message type {kind!r}; known: start, end, clear", "bad_message"
            )

    def _checked_rate(self, rate: Any) -> int:
        low, high = self._settings.ws_min_sample_rate_hz, self._settings.ws_max_sample_rate_hz
        if not isinstance(rate, int) or not low <= rate <= high:
            raise ServerError(
                f"sample_rate must be an integer from {low} to {high} Hz, got {rate!r}",
                "bad_sample_rate",
            )
        return rate

    async def _send_events(self, events: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            message = await events.get()
            await self._ws.send_json(message)


async def serve_speech(
    ws: WebSocket, session_id: str, sessions: SessionManager, settings: ServerSettings
) -> None:
    await ws.accept()
    try:
        session = sessions.get(session_id)
    except ServerError as exc:
        await ws.close(CLOSE_NOT_FOUND, f"{exc.reason}: {exc}"[:MAX_REASON_BYTES])
        return
    await SpeechConnection(ws, session, settings).serve()
