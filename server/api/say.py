"""`POST /v1/sessions/{id}/say {"text": ...}`: the built-in voice speaks into a live session.

The text is checked (empty -> 400 empty_text, over `say_max_chars` -> 413 text_too_long), then
synthesised phrase by phrase on a thread while the avatar already speaks the first phrase
(engine.voice.speaker). The answer (202) comes at once; playback_started and playback_finished
{position_s, interrupted} arrive as for the speech websocket: on that websocket and on the
`control` data channel. Says queue behind each other; a websocket `clear` interrupts them.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from engine.voice.base import Voice, checked_text, split_phrases
from server.errors import ServerError
from server.live_sessions import SessionManager
from server.settings import ServerSettings
from server.tokens import SessionAccess

router = APIRouter(prefix="/v1/sessions")


class SayBody(BaseModel):
    text: Annotated[str, Field(description="what the avatar says; plain text")]


@router.post("/{session_id}/say", status_code=202, dependencies=[SessionAccess])
async def say(request: Request, session_id: str, body: SayBody) -> dict[str, Any]:
    settings: ServerSettings = request.app.state.settings
    sessions: SessionManager = request.app.state.sessions
    session = sessions.get(session_id)
    text = checked_text(body.text, settings.say_max_chars)
    voice = await voice_of(request.app.state)
    session.say(voice, text)
    return {
        "session_id": session.id,
        "voice": voice.name,
        "characters": len(text),
        "phrases": len(split_phrases(text)),
    }


async def voice_of(state: Any) -> Voice:
    """The app's voice, loaded once (off the event loop) on first use or after warm-up."""
    lock: asyncio.Lock = state.voice_lock
    async with lock:
        voice: Voice | None = getattr(state, "voice", None)
        if voice is None:
            from engine.voice.select import load_voice

            settings: ServerSettings = state.settings
            try:
                voice = await asyncio.to_thread(load_voice, settings.voice)
            except ValueError as exc:
                raise ServerError(f"unknown voice {settings.voice!r}", "voice_unavailable") from exc
            state.voice = voice
        return voice
