"""`/v1/sessions`: create a session from a WebRTC offer, read and change it, end it, and the agent
speech websocket."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, WebSocket
from pydantic import BaseModel, Field

from engine.contract import ALLOWED_FPS, Controls, StreamOptions
from server.api.speech_ws import serve_speech
from server.errors import ServerError
from server.live_sessions import SessionManager
from server.tokens import (
    TICKET_TTL_S,
    Grant,
    SessionAccess,
    grant_required,
    mint_session_token,
    mint_ticket,
    tokens,
)

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])
MAX_SEED = 2**32 - 1


class ControlsBody(BaseModel):
    """Live controls; fields left out keep their current value."""

    emotion: Annotated[str | None, Field(max_length=32, description="neutral, happy, ...")] = None
    emotion_intensity: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    gaze_x: Annotated[float | None, Field(ge=-1.0, le=1.0, description="-1 left .. 1 right")] = None
    gaze_y: Annotated[float | None, Field(ge=-1.0, le=1.0, description="-1 down .. 1 up")] = None
    head_distance: Annotated[float | None, Field(ge=-1.0, le=1.0)] = None
    audio_guidance: Annotated[float | None, Field(ge=1.0, le=10.0)] = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


Output = Literal["video", "blendshapes"]


class SessionOptionsBody(BaseModel):
    profile: Annotated[
        str | None, Field(max_length=32, description="low-latency, balanced or quality")
    ] = None  # default: the server's profile
    fps: Annotated[int | None, Field(description=f"one of {ALLOWED_FPS}")] = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED, description="motion sampling seed")] = 0
    controls: ControlsBody = Field(default_factory=ControlsBody)
    # "blendshapes": each frame's ARKit blendshapes over the control channel and the speech
    # websocket (docs/blendshapes.md); without "video" no picture is decoded or sent.
    outputs: Annotated[list[Output], Field(min_length=1, max_length=2)] = Field(
        default_factory=lambda: list[Output](["video"])
    )


class OfferBody(BaseModel):
    sdp: Annotated[str, Field(description="the browser's WebRTC offer (with a video section)")]
    type: Literal["offer"] = "offer"
    avatar_id: Annotated[str, Field(max_length=128)] = "default"
    options: SessionOptionsBody = Field(default_factory=SessionOptionsBody)


class SessionCreated(BaseModel):
    sdp: str = Field(description="the server's answer")
    type: Literal["answer"] = "answer"
    session_id: str
    session_token: str = Field(
        description="Authorization: Bearer TOKEN on every /v1/sessions/{id} route"
    )
    expires_in_s: float = Field(description="renew with POST /v1/sessions/{id}/token before then")


class SessionToken(BaseModel):
    session_token: str
    expires_in_s: float


class SpeechTicket(BaseModel):
    ticket: str = Field(description="opens WS /v1/sessions/{id}/speech?ticket=TICKET once")
    expires_in_s: float


def _sessions(request: Request) -> SessionManager:
    sessions: SessionManager = request.app.state.sessions
    return sessions


def _ready(request: Request) -> None:
    if not request.app.state.ready.is_set():
        raise ServerError("the server is still warming up; try again in a few seconds", "not_ready")


@router.post("", status_code=201, dependencies=[grant_required(Grant.SESSIONS_CREATE)])
async def create_session(request: Request, body: OfferBody) -> SessionCreated:
    """Answer a WebRTC offer; the answer carries the session's token (needs the API key or a
    client token granting sessions:create when the server has a key)."""
    _ready(request)
    settings = request.app.state.settings
    fps = body.options.fps or settings.fps
    if fps not in ALLOWED_FPS:
        raise ServerError(f"options.fps must be one of {ALLOWED_FPS}, got {fps}", "bad_fps")
    options = StreamOptions(
        avatar_id=body.avatar_id,
        profile=body.options.profile or settings.profile,
        fps=fps,
        seed=body.options.seed,
        controls=Controls(**body.options.controls.changes()),
        outputs=tuple(body.options.outputs),
    )
    avatar_id = body.avatar_id if body.avatar_id != "default" else settings.default_avatar
    session, answer_sdp = await _sessions(request).create(body.sdp, avatar_id, options)
    ttl_s = settings.session_token_ttl_s
    token = mint_session_token(tokens(request), session.id, ttl_s)
    return SessionCreated(
        sdp=answer_sdp, session_id=session.id, session_token=token, expires_in_s=ttl_s
    )


@router.get("/{session_id}", dependencies=[SessionAccess])
async def get_session(request: Request, session_id: str) -> dict[str, Any]:
    """The session's state: connection, frames sent, speaking, controls."""
    return _sessions(request).get(session_id).describe()


@router.patch("/{session_id}", dependencies=[SessionAccess])
async def patch_controls(request: Request, session_id: str, body: ControlsBody) -> dict[str, Any]:
    """Change live controls; fields left out keep their value."""
    controls = _sessions(request).get(session_id).set_controls(body.changes())
    return {"controls": dataclasses.asdict(controls)}


@router.delete("/{session_id}", status_code=204, dependencies=[SessionAccess])
async def delete_session(request: Request, session_id: str) -> Response:
    """End the session; its tokens stop working."""
    await _sessions(request).get(session_id).close("deleted")
    tokens(request).revoke_session(session_id)
    return Response(status_code=204)


@router.post("/{session_id}/token", dependencies=[SessionAccess])
async def renew_token(request: Request, session_id: str) -> SessionToken:
    """A fresh session token (the one presented stays valid until it expires)."""
    _sessions(request).get(session_id)
    ttl_s = request.app.state.settings.session_token_ttl_s
    token = mint_session_token(tokens(request), session_id, ttl_s)
    return SessionToken(session_token=token, expires_in_s=ttl_s)


@router.post("/{session_id}/ticket", dependencies=[SessionAccess])
async def speech_ticket(request: Request, session_id: str) -> SpeechTicket:
    """A one-time ticket for the speech websocket's URL (browsers cannot set its headers)."""
    _sessions(request).get(session_id)
    return SpeechTicket(ticket=mint_ticket(tokens(request), session_id), expires_in_s=TICKET_TTL_S)


@router.websocket("/{session_id}/speech")
async def speech(websocket: WebSocket, session_id: str) -> None:
    """Agent speech (README "Speech websocket"): Authorization: Bearer TOKEN, or ?ticket=."""
    state = websocket.app.state
    await serve_speech(websocket, session_id, state.sessions, state.settings)
