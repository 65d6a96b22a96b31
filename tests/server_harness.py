"""A reusable harness for server tests: a real uvicorn server on 127.0.0.1 in a thread, and a real
aiortc client that makes a call to it and keeps what it receives.

Everything stays on loopback: the server runs with ice_loopback=only, which also makes the
in-process aiortc client offer only 127.0.0.1 (the setting is process-wide).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fractions
import functools
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
import uvicorn
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpSender,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

from server.app import create_app
from server.clients.webrtc_client import negotiate
from server.settings import IceLoopback, ServerSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEECH_WAV = REPO_ROOT.parent / "shared" / "data" / "speech" / "lj050-0131.wav"


@functools.cache
def shared_engine() -> Any:
    """One warmed-up engine.stream.engine.StreamEngine for every test server in this process
    (loading and warming the models once keeps the server tests short). Skips when the motion
    weights are absent (GIOCONDA_MOTION_WEIGHTS may point at others)."""
    from engine.motion.clip import DEFAULT_WEIGHTS
    from engine.stream.engine import StreamEngine

    weights = Path(os.environ.get("GIOCONDA_MOTION_WEIGHTS") or DEFAULT_WEIGHTS)
    if not weights.is_file():
        pytest.skip(f"motion weights {weights} are not here")
    engine = StreamEngine(threads=1, weights=weights)
    engine.warm_up()
    atexit.register(engine.close)
    return engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# How long a live call's frames may pause in a test: under the engine's stall horizon
# (engine.stream.degrade.STALL_S, where a stream would give up its media clock). Frames that stop
# for that long are a dead call on any machine; shorter pauses happen when the CPU is shared:
# with two busy processes beside the whole suite, one call paused 3.8 s once (a 2-vCPU machine;
# `gioconda bench stream --background-load` measures the delay properly).
def stall_bound_s() -> float:
    from engine.stream.degrade import STALL_S

    return STALL_S


def server_settings(data_dir: Path, **overrides: Any) -> ServerSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": free_port(),
        "data_dir": data_dir,
        "ice_loopback": IceLoopback.ONLY,
        "max_sessions": 2,
        # Tests that run two calls at once assert what each call gets, not this machine's
        # capacity: admission by measured load is off unless a test turns it on
        # (tests/test_admission.py).
        "admit_max_load": 0.0,
    }
    values.update(overrides)
    return ServerSettings(**values)


class ServerThread:
    """uvicorn serving create_app(settings) on its own event loop in a daemon thread, on the
    shared engine unless one is given."""

    def __init__(self, settings: ServerSettings, engine: Any = None) -> None:
        self.settings = settings
        self.app = create_app(settings, engine if engine is not None else shared_engine())
        config = uvicorn.Config(
            self.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            ws_max_size=4 * settings.ws_max_message_bytes,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{settings.host}:{settings.port}"

    def start(self, ready_timeout_s: float = 180.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            if not self.thread.is_alive():
                raise RuntimeError("the server thread died while starting")
            time.sleep(0.2)
        raise TimeoutError("the server did not become ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def live_sessions(self) -> int:
        return len(self.app.state.sessions)


@contextlib.contextmanager
def running_server(settings: ServerSettings, engine: Any = None) -> Iterator[ServerThread]:
    server = ServerThread(settings, engine).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class ReceivedFrame:
    arrival_s: float  # time.monotonic() when the decoded frame came out of the track
    rgb: np.ndarray | None  # kept only when asked for


@dataclass
class Call:
    """A client peer connection to the server and what arrived on it."""

    pc: RTCPeerConnection
    session_id: str
    answer_sdp: str
    base_url: str
    headers: dict[str, str]  # the session token: pass to every /v1/sessions/{id} request
    frames: list[ReceivedFrame] = field(default_factory=list)
    sizes: set[tuple[int, int]] = field(default_factory=set)
    keep_rgb_every: int = 0  # keep the decoded picture of every n-th frame (0: none)
    audio_samples: int = 0
    channel: RTCDataChannel | None = None
    channel_messages: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        """Hang up as the web client does: end the session on the server, then close."""
        for task in self.tasks:
            task.cancel()
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.headers) as client:
            await client.delete(f"/v1/sessions/{self.session_id}")
        await self.pc.close()

    async def frames_arrive(self, count: int = 5, timeout_s: float = 10.0) -> bool:
        """Whether `count` more frames arrive within `timeout_s`: the call is alive, whatever
        the machine's load does to its rate."""
        target = len(self.frames) + count
        deadline = time.monotonic() + timeout_s
        while len(self.frames) < target and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # the reader task appends; polling keeps it untouched
        return len(self.frames) >= target

    def pictures_between(self, start_s: float, end_s: float) -> list[np.ndarray]:
        return [f.rgb for f in self.frames if f.rgb is not None and start_s <= f.arrival_s <= end_s]

    def fps_between(self, start_s: float, end_s: float) -> float:
        times = [f.arrival_s for f in self.frames if start_s <= f.arrival_s <= end_s]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def longest_gap_s(self, start_s: float, end_s: float) -> float:
        """The longest time between two frames arriving in [start_s, end_s], counting the
        edges: a stalled stream shows as a long gap however many frames came before it."""
        times = [start_s] + [f.arrival_s for f in self.frames if start_s <= f.arrival_s <= end_s]
        times.append(end_s)
        return max(b - a for a, b in zip(times[:-1], times[1:], strict=True))

    def gaps_over(self, limit_s: float) -> list[tuple[float, float]]:
        """(start from the first frame, length) of every gap between frames over limit_s."""
        times = [f.arrival_s for f in self.frames]
        return [
            (round(a - times[0], 2), round(b - a, 2))
            for a, b in zip(times[:-1], times[1:], strict=True)
            if b - a > limit_s
        ]


class PcmTrack(AudioStreamTrack):
    """Plays int16 mono samples in real time, 20 ms per frame, after `start_delay_s` of silence
    and followed by silence (like a browser playing a file into the call)."""

    def __init__(self, samples: np.ndarray, sample_rate_hz: int, start_delay_s: float = 0.0):
        super().__init__()
        self._samples = samples.astype(np.int16)
        self._rate = sample_rate_hz
        self._chunk = sample_rate_hz // 50
        self._delay = int(start_delay_s * sample_rate_hz)
        self._pts = 0
        self._clock_start: float | None = None
        self.first_sample_sent_s: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._clock_start is None:
            self._clock_start = time.monotonic()
        due = self._clock_start + self._pts / self._rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        chunk = np.zeros(self._chunk, np.int16)
        begin = self._pts - self._delay  # index into the samples
        lo, hi = max(begin, 0), min(begin + self._chunk, len(self._samples))
        if hi > lo:
            chunk[lo - begin : hi - begin] = self._samples[lo:hi]
            if self.first_sample_sent_s is None:
                self.first_sample_sent_s = time.monotonic()
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self._rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self._rate)
        self._pts += self._chunk
        return frame


async def start_call(
    base_url: str,
    *,
    avatar_id: str = "default",
    audio: MediaStreamTrack | None = None,
    prefer_codec: str | None = None,
    keep_rgb_every: int = 0,
    options: dict[str, Any] | None = None,
    control_channel: bool = True,
    api_key: str | None = None,
    video: bool = True,
) -> Call:
    """Offer (recvonly video unless video=False, audio sendrecv or recvonly, a `control`
    channel) and start reading."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if video:
        _want_video(pc, prefer_codec)
    if audio is not None:
        pc.addTrack(audio)
    else:
        pc.addTransceiver("audio", direction="recvonly")
    channel = pc.createDataChannel("control") if control_channel else None
    received: list[MediaStreamTrack] = []
    pc.on("track", received.append)
    answer = await negotiate(pc, base_url, avatar_id, options, api_key)
    call = Call(
        pc,
        answer["session_id"],
        answer["sdp"],
        base_url,
        session_headers(answer),
        keep_rgb_every=keep_rgb_every,
    )
    if channel is not None:
        call.channel = channel
        channel.on("message", call.channel_messages.append)
    loop = asyncio.get_running_loop()
    for track in received:
        reader = _read_video(track, call) if track.kind == "video" else _read_audio(track, call)
        call.tasks.append(loop.create_task(reader))
    return call


def _want_video(pc: RTCPeerConnection, prefer_codec: str | None) -> None:
    video = pc.addTransceiver("video", direction="recvonly")
    if prefer_codec is not None:
        codecs = RTCRtpSender.getCapabilities("video").codecs
        first = [c for c in codecs if c.mimeType.lower() == f"video/{prefer_codec}"]
        video.setCodecPreferences(first + [c for c in codecs if c not in first])
def session_headers(answer: dict[str, Any]) -> dict[str, str]:
    """The headers that /v1/sessions/{id} routes and the speech websocket need, from the answer
    to POST /v1/sessions: `httpx.AsyncClient(headers=call.headers)`,
    `websockets.connect(url, additional_headers=call.headers)`, `speak(..., headers=...)`."""
    return {"Authorization": f"Bearer {answer['session_token']}"}


async def _read_video(track: MediaStreamTrack, call: Call) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            call.sizes.add((frame.width, frame.height))
            every = call.keep_rgb_every
            keep = every > 0 and len(call.frames) % every == 0
            rgb = frame.to_ndarray(format="rgb24") if keep else None
            call.frames.append(ReceivedFrame(time.monotonic(), rgb))


async def _read_audio(track: MediaStreamTrack, call: Call) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            call.audio_samples += frame.samples


def load_pcm(path: Path, rate_hz: int = 16_000) -> np.ndarray:
    """A sound file as int16 mono at rate_hz (PyAV's resampler)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_hz)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.int16)


def mouth_openings(pictures: list[np.ndarray]) -> list[float]:
    """Mouth opening of each picture by re-detected landmarks (pictures without a face are
    left out)."""
    from engine.avatar.landmarks import FaceModels
    from tests.face_metrics import mouth_opening

    models = FaceModels()
    try:
        found = [models.face_landmarks(np.ascontiguousarray(p)) for p in pictures]
    finally:
        models.close()
    return [mouth_opening(faces[0]) for faces in found if faces]
