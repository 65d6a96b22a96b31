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
from dataclasses import replace
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

from engine.avatar.store import AvatarStore
from engine.contract import (
    Controls,
    OutputFrame,
    SegmentEvent,
    SessionEngine,
    SessionStream,
    StreamOptions,
)
from engine.errors import EngineError
from engine.motion.blendshapes import frame_message, layout_message
from engine.voice.base import Voice
from engine.voice.speaker import speak_text
from engine.watermark.payload import STREAM_ID_BITS, WatermarkPayload
from server.admission import check_admission
from server.errors import ServerError
from server.json_limits import loads_bounded
from server.metrics import Metrics
from server.provenance.audit import AuditLog, consent_record_id
from server.provenance.identity import watermark_server_id
from server.settings import ServerSettings
from server.transport.pacing import LabelPainter, MediaClockPump
from server.transport.webrtc import (
    AvatarAudioTrack,
    AvatarVideoTrack,
    TrackSink,
    consume_browser_audio,
    filter_remote_candidates,
)

log = logging.getLogger(__name__)

WATCHDOG_PERIOD_S = 0.5
EVENT_QUEUE_ITEMS = 64
# Blendshape frames are dropped, not queued, while the control channel holds this much unsent
# (a peer that stopped reading): about 3 s of frames at 40 fps.
CHANNEL_BACKLOG_BYTES = 64 * 1024
CONTROL_FIELDS = frozenset(f.name for f in dataclasses.fields(Controls))


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
        self._blendshapes = "blendshapes" in stream.options.outputs
        self._layout_on_channel = False
        self._speech: set[asyncio.Task[None]] = set()  # POST /say texts, spoken in order
        self._speech_turn = asyncio.Lock()
        label = LabelPainter(settings.ai_label_text) if settings.ai_label else None
        self.video = AvatarVideoTrack(metrics, session_id)
        self.audio = AvatarAudioTrack()
        self.pump = MediaClockPump(
            stream,
            TrackSink(self.video, self.audio, metrics),
            fps=stream.options.fps,
            label=label,
            on_frame=self._send_blendshapes if self._blendshapes else None,
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

    def say(self, voice: Voice, text: str) -> None:
        """Speak `text` after whatever this session is already saying (POST /say)."""
        self.touch()
        task = asyncio.get_running_loop().create_task(
            self._say_in_turn(voice, text), name=f"{self.id}:say"
        )
        self._speech.add(task)
        task.add_done_callback(self._speech_done)

    def interrupt(self) -> None:
        """Stop every pending and playing utterance and clear the stream (websocket clear)."""
        for task in list(self._speech):
            task.cancel()
        self.stream.clear()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue of the session's messages for one listener (a speech websocket): segment
        events, and with the blendshapes output, its layout then one message per frame."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(EVENT_QUEUE_ITEMS)
        if self._blendshapes:
            queue.put_nowait(layout_message(self.stream.options.fps))
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def notify(self, message: dict[str, Any]) -> None:
        """Send a message to the page over the control channel (if it is open)."""
        self._send_on_channel(message)

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
            "outputs": list(self.stream.options.outputs),
            "frames_sent": self.pump.frames_pulled,
            "speaking": self.pump.speaking,
            "age_s": round(time.monotonic() - self.created_s, 1),
            "controls": dataclasses.asdict(self.controls),
            "watermark": str(self.stream.options.watermark),
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
        for task in [*self._tasks, *self._speech]:
            if task is not current:
                task.cancel()
        self.video.stop()
        self.audio.stop()
        await _quietly(self.pc.close(), "peer connection")
        await _quietly(self.stream.close(), "engine stream")

    async def _say_in_turn(self, voice: Voice, text: str) -> None:
        async with self._speech_turn:
            await speak_text(self.stream, voice, text)

    def _speech_done(self, task: asyncio.Task[None]) -> None:
        """A failed utterance is logged and reported; the session keeps running."""
        self._speech.discard(task)
        if task.cancelled() or self.closed.is_set():
            return
        exc = task.exception()
        if exc is not None:
            log.error("session %s: saying a text failed", self.id, exc_info=exc)
            reason = exc.reason if isinstance(exc, EngineError) else "say_failed"
            self._send_on_channel({"type": "error", "error": reason, "detail": str(exc)})

    async def _forward_events(self) -> None:
        async for event in self.stream.events():
            self._broadcast(event_message(event))

    def _send_blendshapes(self, frame: OutputFrame) -> None:
        """The pump's callback: each frame's blendshapes leave when its audio does."""
        channel = self._channel
        if not self._layout_on_channel and channel is not None and channel.readyState == "open":
            self._send_on_channel(layout_message(self.stream.options.fps))
            self._layout_on_channel = True
        backlog = channel is not None and channel.bufferedAmount > CHANNEL_BACKLOG_BYTES
        self._broadcast(frame_message(frame), to_channel=not backlog)

    def _broadcast(self, message: dict[str, Any], to_channel: bool = True) -> None:
        """To every listener and the control channel; a stalled listener loses the oldest."""
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)
        if to_channel:
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
            data = loads_bounded(
                message,
                max_bytes=self._settings.ws_max_message_bytes,
                max_depth=self._settings.ws_max_json_depth,
            )
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
        engine: SessionEngine,
        store: AvatarStore,
        metrics: Metrics,
        audit: AuditLog | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._store = store
        self._metrics = metrics
        self._audit = audit  # the consent audit: one row per session, when given
        self._sessions: dict[str, Session] = {}
        self.server_id = watermark_server_id(settings.data_dir, settings.watermark_server_id)
        self._reserved = 0  # sessions being set up, counted against the limit

    def __len__(self) -> int:
        return len(self._sessions)

    def live(self) -> list[Session]:
        return list(self._sessions.values())

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise ServerError(f"no live session with id {session_id!r}", "session_not_found")
        return session

    async def create(
        self, offer_sdp: str, avatar_id: str, options: StreamOptions
    ) -> tuple[Session, str]:
        """Check limits, load the avatar, start the stream and answer the offer."""
        kinds = self._check_offer(offer_sdp, options.renders_video)
        await asyncio.to_thread(self._store.get, avatar_id)  # not_found before the count check
        if len(self._sessions) + self._reserved >= self._settings.max_sessions:
            raise ServerError(
                f"the server is at its limit of {self._settings.max_sessions} sessions; "
                "try again later",
                "too_many_sessions",
            )
        check_admission(
            self._engine,
            options.fps,
            len(self._sessions) + self._reserved,
            self._settings.admit_max_load,
        )
        self._reserved += 1
        try:
            avatar = await asyncio.to_thread(self._store.load, avatar_id)
            stream_id = secrets.randbelow(1 << STREAM_ID_BITS)
            options = replace(options, watermark=WatermarkPayload(self.server_id, stream_id))
            # Building the avatar's renderer takes a moment: off the event loop.
            stream = await asyncio.to_thread(self._engine.create_stream, avatar, options)
            session, answer = await self._connect(
                stream, self._store.resolve(avatar_id), offer_sdp, kinds
            )
            await asyncio.to_thread(self._audit_start, session)
            return session, answer
        finally:
            self._reserved -= 1

    async def close_all(self) -> None:
        await asyncio.gather(*(s.close("shutdown") for s in list(self._sessions.values())))

    def _check_offer(self, sdp: str, needs_video: bool) -> list[str]:
        """The offer's media kinds, in order; refuses oversized, unparsable or (for a session
        with video) video-less SDP."""
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
        if needs_video and "video" not in kinds:
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
            if stream.options.renders_video:
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
        if self._audit is not None:
            self._audit.end(session.id, session.close_cause)

    def _audit_start(self, session: Session) -> None:
        if self._audit is None:
            return
        consent = consent_record_id(self._store.get(session.avatar_id))
        watermark = str(session.stream.options.watermark)
        self._audit.start(session.id, "session", session.avatar_id, consent, watermark)


async def _quietly(awaitable: Awaitable[None], what: str) -> None:
    """Teardown must finish even when one part fails; the failure is logged, not raised."""
    try:
        await awaitable
    except Exception:
        log.exception("closing the %s failed", what)
