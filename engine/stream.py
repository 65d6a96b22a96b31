"""The streaming engine: live sessions (and offline renders) from audio to synced frames.

`StreamEngine` owns the motion model, one decoder renderer per avatar in use and the scheduler's
model worker thread (one compute thread by default). `AvatarStream` is one session; it satisfies
`engine.session_api.SessionStream` and every method is safe to call from the event loop: audio,
ends, clears and controls are queued for the worker, frames and events come back through
bounded channels.

Bounds and their policies:
- speech waiting to be placed: at most MAX_QUEUED_S (30 s) per stream; a push beyond it raises
  AudioError(queue_full) and the caller pushes again later (back-pressure, nothing dropped);
- one push: at most MAX_CHUNK_S (10 s) of audio, else AudioError(chunk_too_long);
- finished frames: LIVE_CHANNEL_FRAMES (2) per live stream, OFFLINE_CHANNEL_FRAMES (8) offline;
  the worker makes a stream's next frame only when its channel has room (back-pressure);
- segment events: MAX_EVENTS per stream; when full the oldest is dropped.
Live streams (realtime=True) degrade when late (engine.scheduler: repeated pictures, never
dropped audio); offline streams (realtime=False) never degrade and wait for audio instead of
inserting silence, so a render is deterministic per seed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from engine.audio_input import AudioInput, validate_chunk
from engine.avatar import PreparedAvatar
from engine.errors import EngineError
from engine.motion_batch import sample_windows
from engine.motion_generate import load_motion_model
from engine.profiles import get_profile
from engine.renderer import AvatarRenderer
from engine.scheduler import Scheduler, SchedulerStats
from engine.session_api import (
    ALLOWED_FPS,
    OUTPUT_AUDIO_RATE_HZ,
    Controls,
    OutputFrame,
    SegmentEvent,
    StreamOptions,
)
from engine.speech_queue import SpeechQueue
from engine.stream_pipeline import StreamPipeline, motion_controls
from engine.stream_task import ReadyFrame, StreamTask
from engine.stream_timeline import frame_video_pts
from models import motion_space as ms
from models.motion_checkpoint import MotionModel
from models.motion_data import SAMPLES_PER_MOTION_FRAME

LIVE_CHANNEL_FRAMES = 2
OFFLINE_CHANNEL_FRAMES = 8
MAX_EVENTS = 256  # per stream; when full the oldest event is dropped (a consumer that never reads)
GUIDANCE_RANGE = (1.0, 10.0)


def validate_controls(controls: Controls) -> None:
    motion_controls(controls).tensors()  # unknown emotion -> EngineError(bad_control)
    limits = {
        "emotion_intensity": (0.0, 1.0),
        "gaze_x": (-1.0, 1.0),
        "gaze_y": (-1.0, 1.0),
        "head_distance": (ms.field("scale").low, ms.field("scale").high),
        "audio_guidance": GUIDANCE_RANGE,
    }
    for name, (low, high) in limits.items():
        value = getattr(controls, name)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise EngineError(f"control {name}={value} is outside [{low}, {high}]", "bad_control")


def live_start_lead_samples(options: StreamOptions) -> int:
    """How far ahead of the shown frame a live segment's first sample is placed when its audio
    is still arriving: the audio a window needs beyond its first frame (W + L motion frames and
    the encoder's 40 ms) plus the frames buffered in the channel and one of compute."""
    profile = get_profile(options.profile)
    motion_frames = profile.window_frames + profile.lookahead_frames + 1
    frame_samples = OUTPUT_AUDIO_RATE_HZ // options.fps
    return motion_frames * SAMPLES_PER_MOTION_FRAME + (LIVE_CHANNEL_FRAMES + 1) * frame_samples


def validate_options(options: StreamOptions) -> None:
    if options.fps not in ALLOWED_FPS:
        raise EngineError(f"fps must be one of {ALLOWED_FPS}, got {options.fps}", "bad_fps")
    get_profile(options.profile)
    validate_controls(options.controls)


class AvatarStream:
    def __init__(
        self, engine: StreamEngine, task: StreamTask, queue: SpeechQueue, options: StreamOptions
    ) -> None:
        self.options = options
        self._engine = engine
        self._task = task
        self._queue = queue
        self._input = AudioInput()
        self._events: asyncio.Queue[SegmentEvent | None] = asyncio.Queue(MAX_EVENTS + 1)
        self._playing: dict[int, int] = {}  # segment id -> samples played, until it finishes
        self._cleared_below = 0
        self._closed = False

    @property
    def queued_audio_s(self) -> float:
        return self._queue.queued_s

    @property
    def underruns(self) -> int:
        return self._task.pipeline.underruns

    def push_audio(
        self, samples: NDArray[np.generic], sample_rate_hz: int, channels: int = 1
    ) -> None:
        self._check_open()
        validate_chunk(samples, sample_rate_hz, channels)
        self._queue.check_room(np.asarray(samples).size // channels * 16_000 // sample_rate_hz)
        mono = self._input.push(samples, sample_rate_hz, channels)
        segment_id, opened = self._queue.push(mono, time.monotonic())
        if opened:
            self._playing[segment_id] = 0
        self._engine.notify()

    def end_segment(self) -> None:
        self._check_open()
        if self._queue.open_segment is None:
            return
        self._queue.push(self._input.flush(), time.monotonic())
        self._queue.end()
        self._engine.notify()

    def clear(self) -> None:
        self._check_open()
        self._input.flush()
        self._queue.clear()
        self._cleared_below = self._queue.cleared_below
        for segment_id, played in sorted(self._playing.items()):
            self._emit("finished", segment_id, played, interrupted=True)
        self._playing.clear()
        self._engine.notify()

    def set_controls(self, controls: Controls) -> None:
        self._check_open()
        validate_controls(controls)
        self._task.pipeline.pending_controls = controls
        self.options = replace(self.options, controls=controls)
        self._engine.notify()

    async def frames(self) -> AsyncIterator[OutputFrame]:
        if not self._task.started:
            self._task.start(time.monotonic(), asyncio.get_running_loop())
            self._engine.notify()
        while True:
            ready = await self._task.channel.get()
            if ready is None:
                return
            self._engine.notify()  # the channel has room again
            yield self._depart(ready)

    async def events(self) -> AsyncIterator[SegmentEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    def take_events(self) -> list[SegmentEvent]:
        """Events already due, without waiting (for a consumer that also drives frames())."""
        events = []
        while not self._events.empty():
            event = self._events.get_nowait()
            if event is not None:
                events.append(event)
        return events

    async def close(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Synchronous close (idempotent): stop producing, end frames() and events()."""
        if self._closed:
            return
        self._closed = True
        self._engine.release(self._task)
        self._task.channel.close()
        self._push_event(None)

    def owns(self, task: StreamTask) -> bool:
        return task is self._task

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("the stream is closed", reason="stream_closed")
        if self._task.failed:
            raise EngineError("the stream failed and was closed", reason="stream_failed")

    def _depart(self, ready: ReadyFrame) -> OutputFrame:
        frame, audio = ready.frame, ready.frame.audio
        if frame.index == 0:
            self._task.anchor_s = time.monotonic()
        self._task.pipeline.departed_frames = frame.index + 1
        muted = audio.segment_id is not None and audio.segment_id < self._cleared_below
        for mark in audio.marks:
            if mark.segment_id >= self._cleared_below:
                self._emit(mark.kind, mark.segment_id, mark.segment_samples)
        speaking = audio.segment_id is not None and not muted
        if speaking and audio.segment_id in self._playing:
            self._playing[audio.segment_id] = audio.segment_samples
        pcm = np.zeros(len(audio.samples), np.int16) if muted else to_int16(audio.samples)
        return OutputFrame(
            index=frame.index,
            video=ready.picture,
            video_pts=frame_video_pts(frame.index, self.options.fps),
            audio=pcm,
            audio_pts=audio.start,
            speaking=speaking,
            audio_arrival_s=audio.arrival_s if speaking else None,
        )

    def _emit(
        self, kind: str, segment_id: int, played_samples: int, interrupted: bool = False
    ) -> None:
        if kind == "finished":
            self._playing.pop(segment_id, None)
        position_s = played_samples / OUTPUT_AUDIO_RATE_HZ
        event = SegmentEvent(
            "started" if kind == "started" else "finished", segment_id, position_s, interrupted
        )
        self._push_event(event)

    def _push_event(self, event: SegmentEvent | None) -> None:
        if self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(event)


def to_int16(samples: NDArray[np.float32]) -> NDArray[np.int16]:
    pcm: NDArray[np.int16] = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    return pcm


class StreamEngine:
    def __init__(
        self,
        threads: int = 1,
        weights: Path | str | None = None,
        *,
        model: MotionModel | None = None,
    ) -> None:
        torch.set_num_threads(threads)
        self.model = (model if model is not None else load_motion_model(weights)).eval()
        self._scheduler = Scheduler(threads)
        self._renderers: dict[int, tuple[PreparedAvatar, AvatarRenderer, int]] = {}
        self._streams: list[AvatarStream] = []
        self._created = 0
        self._closed = False
        self.ready = False

    @property
    def stats(self) -> SchedulerStats:
        return self._scheduler.stats

    def warm_up(self, avatar: PreparedAvatar | None = None) -> None:
        """One real motion window and one decoded frame on the worker thread; sets `ready`."""
        if avatar is None:
            from engine.avatar_source import load_avatar

            avatar = load_avatar(None)
        pipeline = StreamPipeline(self.model, avatar.source_motion, StreamOptions(), SpeechQueue())
        renderer = AvatarRenderer(avatar)

        def work() -> None:
            request = pipeline.request_window(may_wait=False)
            assert request is not None, "a window on silence never waits"
            renderer.render(sample_windows([request])[0][:1])

        self._scheduler.call(work)
        self.ready = True

    def create_stream(
        self, avatar: PreparedAvatar, options: StreamOptions | None = None, *, realtime: bool = True
    ) -> AvatarStream:
        """A new session on `avatar`. realtime=False: an offline render (no pacing, no drops)."""
        if self._closed:
            raise EngineError("the engine is closed", reason="engine_closed")
        options = options or StreamOptions()
        validate_options(options)
        queue = SpeechQueue()
        lead = live_start_lead_samples(options) if realtime else None
        pipeline = StreamPipeline(self.model, avatar.source_motion, options, queue, lead)
        self._created += 1
        task = StreamTask(
            f"{options.avatar_id}#{self._created}",
            pipeline,
            self._acquire_renderer(avatar),
            realtime,
            LIVE_CHANNEL_FRAMES if realtime else OFFLINE_CHANNEL_FRAMES,
        )
        stream = AvatarStream(self, task, queue, options)
        self._streams.append(stream)
        self._scheduler.add(task)
        return stream

    def notify(self) -> None:
        self._scheduler.notify()

    def release(self, task: StreamTask) -> None:
        """A stream closed: stop scheduling it and drop its avatar's renderer if unused."""
        self._scheduler.remove(task)
        self._streams = [s for s in self._streams if not s.owns(task)]
        for key, (avatar, renderer, users) in list(self._renderers.items()):
            if renderer is task.renderer:
                if users > 1:
                    self._renderers[key] = (avatar, renderer, users - 1)
                else:
                    del self._renderers[key]

    def close(self) -> None:
        """Idempotent: close every stream, then stop the worker thread."""
        if self._closed:
            return
        self._closed = True
        for stream in list(self._streams):
            stream.shutdown()
        self._scheduler.close()

    def _acquire_renderer(self, avatar: PreparedAvatar) -> AvatarRenderer:
        # Keyed by identity; the cached avatar reference keeps the id from being reused.
        entry = self._renderers.get(id(avatar))
        if entry is None:
            entry = (avatar, AvatarRenderer(avatar), 0)
        self._renderers[id(avatar)] = (entry[0], entry[1], entry[2] + 1)
        return entry[1]
