"""`/v1/sessions`: create a session from a WebRTC offer, read and change it, end it, and the agent
speech websocket."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, WebSocket
from pydantic import BaseModel, Field

from engine.contract import ALLOWED_FPS, Controls, StreamOptions
from server.api.speech_ws import CLOSE_UNAUTHORIZED, serve_speech
from server.auth import authorized
from server.errors import ServerError
from server.live_sessions import SessionManager

router = APIRouter(prefix="/v1/sessions")


class ControlsBody(BaseModel):
    """Live controls; fields left out keep their current value."""

    emotion: str | None = None
    emotion_intensity: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    gaze_x: Annotated[float | None, Field(ge=-1.0, le=1.0)] = None
    gaze_y: Annotated[float | None, Field(ge=-1.0, le=1.0)] = None
    head_distance: Annotated[float | None, Field(ge=-1.0, le=1.0)] = None
    audio_guidance: Annotated[float | None, Field(ge=0.0, le=10.0)] = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class SessionOptionsBody(BaseModel):
    profile: str | None = None  # default: the server's profile
    fps: int | None = None
    seed: int = 0
    controls: ControlsBody = Field(default_factory=ControlsBody)


class OfferBody(BaseModel):
    sdp: str
    type: Literal["offer"] = "offer"
    avatar_id: str = "default"
    options: SessionOptionsBody = Field(default_factory=SessionOptionsBody)


def _sessions(request: Request) -> SessionManager:
    sessions: SessionManager = request.app.state.sessions
    return sessions


def _ready(request: Request) -> None:
    if not request.app.state.ready.is_set():
        raise ServerError("the server is still warming up; try again in a few seconds", "not_ready")


@router.post("", status_code=201)
async def create_session(request: Request, body: OfferBody) -> dict[str, Any]:
    _ready(request)
    settings = request.app.state.settings
    fps = body.options.fps or settings.fps
    if fps not in ALLOWED_FPS:
        raise ServerError(f"fps must be one of {ALLOWED_FPS}, got {fps}", "bad_fps")
    options = StreamOptions(
        avatar_id=body.avatar_id,
        profile=body.options.profile or settings.profile,
        fps=fps,
        seed=body.options.seed,
        controls=Controls(**body.options.controls.changes()),
    )
    avatar_id = body.avatar_id if body.avatar_id != "default" else settings.default_avatar
    session, answer_sdp = await _sessions(request).create(body.sdp, avatar_id, options)
    return {"sdp": answer_sdp, "type": "answer", "session_id": session.id}


@router.get("/{session_id}")
async def get_session(request: Request, session_id: str) -> dict[str, Any]:
    return _sessions(request).get(session_id).describe()


@router.patch("/{session_id}")
async def patch_controls(request: Request, session_id: str, body: ControlsBody) -> dict[str, Any]:
    controls = _sessions(request).get(session_id).set_controls(body.changes())
    return {"controls": dataclasses.asdict(controls)}


@router.delete("/{session_id}", status_code=204)
async def delete_session(request: Request, session_id: str) -> Response:
    await _sessions(request).get(session_id).close("deleted")
    return Response(status_code=204)


@router.websocket("/{session_id}/speech")
async def speech(websocket: WebSocket, session_id: str) -> None:
    state = websocket.app.state
    if not authorized(websocket, state.settings.api_key):
        # Accept first: a close before accepting is a bare HTTP 403 without a reason.
        await websocket.accept()
        await websocket.close(CLOSE_UNAUTHORIZED, "unauthorized: this server needs an API key")
        return
    await serve_speech(websocket, session_id, state.sessions, state.settings)
