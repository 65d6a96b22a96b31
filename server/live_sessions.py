"""Live sessions: an engine stream, a peer connection, the tasks that serve them, their limits.

A `Session` owns everything it starts (pump, event fan-out, watchdog, inbound audio) and `close()`
cancels all of it; it may be called twice. The `SessionManager` owns the sessions, enforces the
session count and SDP size, and closes every session on shutdown. A failing session is torn down
alone and logged with its traceback; the others keep running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

from engine.avatar.prepared import PreparedAvatar
from engine.avatar.store import AvatarStore
from engine.contract import Controls, SegmentEvent, SessionStream, StreamOptions
from engine.errors import EngineError
from server.errors import ServerError
from server.metrics import Metrics
from server.settings import ServerSettings
from server.transport.pacing import LabelPainter
from server.transport.webrtc import (
    AvatarAudioTrack,
    AvatarVideoTrack,
    MediaClockPump,
    consume_browser_audio,
    filter_remote_candidates,
)

log = logging.getLogger(__name__)

WATCHDOG_PERIOD_S = 0.5
EVENT_QUEUE_ITEMS = 64
CONTROL_FIELDS = frozenset(f.name for f in dataclasses.fields(Controls))


class StreamEngine(Protocol):
    """What the server needs from engine.stream.engine.StreamEngine."""

    def warm_up(self, avatar: PreparedAvatar | None = None) -> None: ...

    def create_stream(self, avatar: PreparedAvatar, options: StreamOptions) -> SessionStream: ...

    def close(self) -> None: ...


def event_message(event: SegmentEvent) -> dict[str, Any]:
    """A segment event in the agent speech protocol's words."""
    if event.kind == "started":
        return {"type": "playback_started", "segment_id": event.segment_id}
    return {
        "type": "playback_finished",
        "segment_id": event.segment_id,
        "position_s": round(event.position_s, 3),
        "interrupted": event.interrupted,
    }


def merge_controls(current: Controls, changes: dict[str, Any]) -> Controls:
    unknown = set(changes) - CONTROL_FIELDS
    if unknown:
        raise ServerError(
            f"unknown controls {sorted(unknown)}; known: {sorted(CONTROL_FIELDS)}", "bad_control"
        )
    try:
        return dataclasses.replace(current, **changes)
    except TypeError as exc:
        raise ServerError(f"bad controls: {exc}", "bad_control") from exc


class Session:
    def __init__(
        self,
        session_id: str,
        avatar_id: str,
        pc: RTCPeerConnection,
        stream: SessionStream,
        settings: ServerSettings,
        metrics: Metrics,
        on_closed: Callable[[Session], None],
    ) -> None:
        self.id = session_id
        self.avatar_id = avatar_id
        self.pc = pc
        self.stream = stream
        self.controls = stream.options.controls
        self.created_s = time.monotonic()
        self.last_activity_s = self.created_s
        self.connected_once = False
        self.closed = asyncio.Event()
        self.close_cause = ""
        self._settings = settings
        self._metrics = metrics
        self._on_closed = on_closed
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._channel: RTCDataChannel | None = None
        self._closer: asyncio.Task[None] | None = None  # a close started by a task's end
        label = LabelPainter(settings.ai_label_text) if settings.ai_label else None
        self.video = AvatarVideoTrack(metrics)
        self.audio = AvatarAudioTrack()
        self.pump = MediaClockPump(
            stream, self.video, self.audio, fps=stream.options.fps, label=label, metrics=metrics
        )

    def start(self) -> None:
        self.spawn(self.pump.run(), "pump")
        self.spawn(self._forward_events(), "events")
        self.spawn(self._watchdog(), "watchdog")

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a task owned by this session; if it fails, the session (only) is torn down."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.id}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def touch(self) -> None:
        self.last_activity_s = time.monotonic()

    def set_controls(self, changes: dict[str, Any]) -> Controls:
        controls = merge_controls(self.controls, changes)
        self.stream.set_controls(controls)  # EngineError(bad_control) for out-of-range values
        self.controls = controls
        self.touch()
        return controls

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(EVENT_QUEUE_ITEMS)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def attach_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != "control":
            return
        self._channel = channel
        channel.on("message", self._on_channel_message)

    def attach_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self.spawn(consume_browser_audio(track, self.stream, self.touch), "browser-audio")

    def describe(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "avatar_id": self.avatar_id,
            "connection_state": self.pc.connectionState,
            "profile": self.stream.options.profile,
            "fps": self.stream.options.fps,
            "frames_sent": self.pump.frames_pulled,
            "speaking": self.pump.speaking,
            "age_s": round(time.monotonic() - self.created_s, 1),
            "controls": dataclasses.asdict(self.controls),
        }

    async def close(self, cause: str = "closed") -> None:
        """Idempotent: stop the tasks, the tracks, the peer connection and the engine stream."""
        if self.closed.is_set():
            return
        self.closed.set()
        self.close_cause = cause
        log.info("session %s closed (%s)", self.id, cause)
        self._metrics.sessions_closed.labels(cause=cause).inc()
        self._on_closed(self)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        self.video.stop()
        self.audio.stop()
        await _quietly(self.pc.close(), "peer connection")
        await _quietly(self.stream.close(), "engine stream")

    async def _forward_events(self) -> None:
        async for event in self.stream.events():
            message = event_message(event)
            for queue in list(self._subscribers):
                if queue.full():
                    queue.get_nowait()  # a stalled listener loses the oldest event
                queue.put_nowait(message)
            self._send_on_channel(message)

    async def _watchdog(self) -> None:
        settings = self._settings
        while True:
            await asyncio.sleep(WATCHDOG_PERIOD_S)
            self._send_stats()
            now = time.monotonic()
            if now - self.last_activity_s > settings.session_idle_timeout_s:
                await self.close("idle")
                return
            if now - self.created_s > settings.session_max_duration_s:
                await self.close("max_duration")
                return
            state = self.pc.connectionState
            self.connected_once = self.connected_once or state == "connected"
            if state in ("failed", "closed"):
                await self.close("disconnected")
                return
            if (
                not self.connected_once
                and now - self.created_s > settings.session_connect_timeout_s
            ):
                await self.close("connect_timeout")  # the peer went away before connecting
                return

    def _send_stats(self) -> None:
        """The server's part of the latency, for the page's estimate (it adds network and
        jitter buffer from getStats)."""
        recent = sorted(self.video.recent_latency_s)
        latency_ms = round(1000 * recent[len(recent) // 2]) if recent else None
        self._send_on_channel(
            {
                "type": "server_stats",
                "latency_ms": latency_ms,
                "frames_sent": self.pump.frames_pulled,
                "speaking": self.pump.speaking,
            }
        )

    def _on_channel_message(self, message: str | bytes) -> None:
        self.touch()
        try:
            data = json.loads(message)
            if not isinstance(data, dict):
                raise ServerError("a control message is a JSON object", "bad_control")
            kind = data.pop("type", "controls")
            if kind == "ping":
                self._send_on_channel({"type": "pong", "t": data.get("t")})
                return
            if kind != "controls":
                raise ServerError(f"unknown message type {kind!r}", "bad_control")
            controls = self.set_controls(data)
            self._send_on_channel({"type": "controls", "controls": dataclasses.asdict(controls)})
        except (EngineError, ValueError, TypeError) as exc:
            reason = exc.reason if isinstance(exc, EngineError) else "bad_control"
            self._send_on_channel({"type": "error", "error": reason, "detail": str(exc)})

    def _send_on_channel(self, message: dict[str, Any]) -> None:
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(json.dumps(message))

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self.closed.is_set():
            return
        exc = task.exception()
        loop = asyncio.get_running_loop()
        if exc is not None:
            log.error("session %s: task %s failed", self.id, task.get_name(), exc_info=exc)
            self._closer = loop.create_task(self.close("failed"))
        elif task.get_name().endswith(":pump"):
            self._closer = loop.create_task(self.close("stream_ended"))  # the engine ended it


class SessionManager:
    def __init__(
        self,
        settings: ServerSettings,
        engine: StreamEngine,
        store: AvatarStore,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._store = store
        self._metrics = metrics
        self._sessions: dict[str, Session] = {}
        self._reserved = 0  # sessions being set up, counted against the limit

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise ServerError(f"no live session with id {session_id!r}", "session_not_found")
        return session

    async def create(
        self, offer_sdp: str, avatar_id: str, options: StreamOptions
    ) -> tuple[Session, str]:
        """Check limits, load the avatar, start the stream and answer the offer."""
        kinds = self._check_offer(offer_sdp)
        await asyncio.to_thread(self._store.get, avatar_id)  # not_found before the count check
        if len(self._sessions) + self._reserved >= self._settings.max_sessions:
            raise ServerError(
                f"the server is at its limit of {self._settings.max_sessions} sessions; "
                "try again later",
                "too_many_sessions",
            )
        self._reserved += 1
        try:
            avatar = await asyncio.to_thread(self._store.load, avatar_id)
            # Building the avatar's renderer takes a moment: off the event loop.
            stream = await asyncio.to_thread(self._engine.create_stream, avatar, options)
            return await self._connect(stream, self._store.resolve(avatar_id), offer_sdp, kinds)
        finally:
            self._reserved -= 1

    async def close_all(self) -> None:
        await asyncio.gather(*(s.close("shutdown") for s in list(self._sessions.values())))

    def _check_offer(self, sdp: str) -> list[str]:
        """The offer's media kinds, in order; refuses oversized, unparsable or video-less SDP."""
        size = len(sdp.encode())
        if size > self._settings.max_sdp_bytes:
            raise ServerError(
                f"the SDP offer is {size} bytes; the limit is {self._settings.max_sdp_bytes}",
                "sdp_too_large",
            )
        try:
            kinds = [media.kind for media in SessionDescription.parse(sdp).media]
        except Exception as exc:  # aiortc's parser raises assertion, value and index errors
            raise ServerError(f"the offer is not valid SDP ({exc!r})", "bad_sdp") from exc
        if "video" not in kinds:
            raise ServerError(
                "the offer has no video section (add a recvonly video transceiver before "
                "createOffer)",
                "bad_sdp",
            )
        return kinds

    async def _connect(
        self, stream: SessionStream, avatar_id: str, offer_sdp: str, kinds: list[str]
    ) -> tuple[Session, str]:
        ice_servers = [RTCIceServer(urls=url) for url in self._settings.ice_servers]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))
        session = Session(
            "s_" + secrets.token_hex(8),
            avatar_id,
            pc,
            stream,
            self._settings,
            self._metrics,
            self._forget,
        )
        pending_tracks: list[MediaStreamTrack] = []
        pc.on("datachannel", session.attach_channel)
        pc.on("track", pending_tracks.append)
        try:
            offer = RTCSessionDescription(filter_remote_candidates(offer_sdp), "offer")
            await pc.setRemoteDescription(offer)
            pc.addTrack(session.video)
            if "audio" in kinds:  # a video-only offer gets video only
                pc.addTrack(session.audio)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await _quietly(pc.close(), "peer connection")
            await _quietly(stream.close(), "engine stream")
            raise ServerError(f"the SDP offer could not be negotiated: {exc}", "bad_sdp") from exc
        self._sessions[session.id] = session
        self._metrics.sessions_total.inc()
        self._metrics.sessions_active.set(len(self._sessions))
        session.start()
        for track in pending_tracks:
            session.attach_track(track)
        pc.on("track", session.attach_track)
        return session, pc.localDescription.sdp

    def _forget(self, session: Session) -> None:
        self._sessions.pop(session.id, None)
        self._metrics.sessions_active.set(len(self._sessions))


async def _quietly(awaitable: Awaitable[None], what: str) -> None:
    """Teardown must finish even when one part fails; the failure is logged, not raised."""
    try:
        await awaitable
    except Exception:
        log.exception("closing the %s failed", what)
