"""Say a text in a live session: `POST /v1/sessions/{id}/say`, then the playback events.

The speech websocket is opened first (listening only, it sends nothing), so playback_started and
playback_finished of the text are not missed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import websockets

from server.clients.speak_client import bearer_headers, speech_url


async def say(
    base_url: str,
    session_id: str,
    text: str,
    *,
    token: str | None = None,
    wait_s: float = 120.0,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The POST's answer, with the events up to playback_finished under "events". `token`: the
    session's token (or the server's API key)."""
    headers = bearer_headers(token)
    events: list[dict[str, Any]] = []
    url = speech_url(base_url, session_id)
    async with websockets.connect(url, additional_headers=headers) as ws:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as http:
            response = await http.post(f"/v1/sessions/{session_id}/say", json={"text": text})
        answer: dict[str, Any] = response.json()
        if response.status_code != 202:
            raise SayRefused(
                answer.get("error", str(response.status_code)), answer.get("detail", "")
            )
        await asyncio.wait_for(_until_finished(ws, events, on_event), wait_s)
    return {**answer, "events": events}


class SayRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


async def _until_finished(
    ws: Any, events: list[dict[str, Any]], on_event: Callable[[dict[str, Any]], None] | None
) -> None:
    async for raw in ws:
        event = json.loads(raw)
        events.append(event)
        if on_event is not None:
            on_event(event)
        if event.get("type") == "playback_finished":
            return
