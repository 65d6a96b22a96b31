"""A minimal aiortc client for the server's own tools (bench webrtc): offer to receive video and
audio with a `control` channel, and hand every decoded video frame to a callback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

FrameCallback = Callable[[av.VideoFrame, float], None]  # (frame, arrival time.monotonic())


@dataclass
class ClientCall:
    pc: RTCPeerConnection
    session_id: str
    frames_received: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def negotiate(
    pc: RTCPeerConnection,
    base_url: str,
    avatar_id: str,
    options: dict[str, Any] | None,
    api_key: str | None,
) -> dict[str, Any]:
    """Offer what `pc` has set up, POST /v1/sessions, apply the answer; -> the JSON answer.

    Closes `pc` and raises RuntimeError with the server's reason when it refuses."""
    await pc.setLocalDescription(await pc.createOffer())
    body = {
        "sdp": pc.localDescription.sdp,
        "type": "offer",
        "avatar_id": avatar_id,
        "options": options or {},
    }
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers) as client:
        response = await client.post("/v1/sessions", json=body)
    if response.status_code != 201:
        await pc.close()
        raise RuntimeError(f"POST /v1/sessions -> {response.status_code}: {response.text}")
    answer: dict[str, Any] = response.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return answer


async def call_server(
    base_url: str,
    on_frame: FrameCallback,
    *,
    avatar_id: str = "default",
    options: dict[str, Any] | None = None,
    api_key: str | None = None,
) -> ClientCall:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    pc.createDataChannel("control")
    tracks: list[MediaStreamTrack] = []
    pc.on("track", tracks.append)
    answer = await negotiate(pc, base_url, avatar_id, options, api_key)
    call = ClientCall(pc, answer["session_id"])
    loop = asyncio.get_running_loop()
    for track in tracks:
        reader = _read_video(track, call, on_frame) if track.kind == "video" else _drain(track)
        call.tasks.append(loop.create_task(reader))
    return call


async def _read_video(track: MediaStreamTrack, call: ClientCall, on_frame: FrameCallback) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            call.frames_received += 1
            on_frame(frame, time.monotonic())


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
