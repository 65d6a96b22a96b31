"""The streaming engine: live sessions (and offline renders) from audio to synced frames.

`StreamEngine` owns the motion model, one decoder renderer per avatar in use and the scheduler's
model worker thread (one compute thread by default). `AvatarStream` is one session; it satisfies
`engine.contract.SessionStream` and every method is safe to call from the event loop: audio,
ends, clears and controls are queued for the worker, frames and events come back through
bounded channels.

Bounds and their policies:
- speech waiting to be placed: at most MAX_QUEUED_S (30 s) per stream; a push beyond it raises
  AudioError(queue_full) and the caller pushes again later (back-pressure, nothing dropped);
- one push: at most MAX_CHUNK_S (10 s) of audio, else AudioError(chunk_too_long);
- finished frames: LIVE_CHANNEL_FRAMES (1) per live stream, OFFLINE_CHANNEL_FRAMES (8) offline;
  the worker makes a stream's next frame only when its channel has room (back-pressure);
- segment events: MAX_EVENTS per stream; when full the oldest is dropped.
Live streams (realtime=True) degrade when late (engine.stream.scheduler: repeated pictures, never
dropped audio); offline streams (realtime=False) never degrade and wait for audio instead of
inserting silence, so a render is deterministic per seed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from engine.avatar.prepared import PreparedAvatar
from engine.backends.base import BackendConfig
from engine.backends.motion import sampling_denoiser
from engine.contract import StreamOptions
from engine.errors import EngineError
from engine.motion.batch import sample_windows
from engine.motion.clip import load_motion_model
from engine.render.renderer import AvatarRenderer, default_backend_config
from engine.stream.options import (
    LIVE_CHANNEL_FRAMES,
    OFFLINE_CHANNEL_FRAMES,
    live_start_lead_samples,
    validate_options,
)
from engine.stream.pipeline import StreamPipeline
from engine.stream.scheduler import Scheduler, SchedulerStats
from engine.stream.session import AvatarStream
from engine.stream.speech_queue import SpeechQueue
from engine.stream.task import StreamTask
from models.motion_checkpoint import MotionModel

__all__ = ["AvatarStream", "StreamEngine", "validate_options"]

log = logging.getLogger(__name__)


class StreamEngine:
    def __init__(
        self,
        threads: int = 1,
        weights: Path | str | None = None,
        *,
        model: MotionModel | None = None,
        backend: BackendConfig | None = None,
        motion_backend: BackendConfig | None = None,
        workers: int = 1,
    ) -> None:
        """backend: how decoders run; None means the process default (set by the server).
        motion_backend: how the motion denoiser runs; None means the same config as the
        decoders (whose `auto` without CUDA means onnxruntime for the denoiser, exported at
        start; engine/backends/motion.py).
        workers: model worker threads; each serves its share of the streams (a new stream goes
        to the least loaded) and batches their windows and frames. One suits a CPU machine;
        on a GPU machine more let the per-stream CPU work (audio encoder, motion finishing)
        of many sessions run in parallel while the GPU does the batched sampler and decoder."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        torch.set_num_threads(threads)
        self.model = (model if model is not None else load_motion_model(weights)).eval()
        self._backend = backend
        motion_config = motion_backend or backend or default_backend_config()
        self._denoiser = sampling_denoiser(self.model, motion_config)
        log.info("%d model worker(s)", workers)
        self._schedulers = [Scheduler(threads, denoiser=self._denoiser) for _ in range(workers)]
        self._scheduler_of: dict[int, Scheduler] = {}  # id(task) -> the worker serving it
        self._renderers: dict[int, tuple[PreparedAvatar, AvatarRenderer, int]] = {}
        self._streams: list[AvatarStream] = []
        self._created = 0
        self._closed = False
        self.ready = False

    @property
    def stats(self) -> SchedulerStats:
        """Every worker's counters, summed (a snapshot)."""
        return SchedulerStats.combined([s.stats for s in self._schedulers])

    @property
    def worker_loads(self) -> list[int]:
        """Streams each worker serves."""
        return [s.load for s in self._schedulers]

    def warm_up(self, avatar: PreparedAvatar | None = None) -> None:
        """One real motion window and one decoded frame on the worker thread; sets `ready`."""
        if avatar is None:
            from engine.avatar.source import load_avatar

            avatar = load_avatar(None)
        pipeline = StreamPipeline(self.model, avatar.source_motion, StreamOptions(), SpeechQueue())
        renderer = AvatarRenderer(avatar, backend=self._backend)

        def work() -> None:
            request = pipeline.request_window(may_wait=False)
            assert request is not None, "a window on silence never waits"
            renderer.render(sample_windows([request], self._denoiser)[0][:1])

        self._schedulers[0].call(work)
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
        worker = min(self._schedulers, key=lambda s: s.load)
        self._scheduler_of[id(task)] = worker
        worker.add(task)
        return stream

    def notify(self) -> None:
        for scheduler in self._schedulers:
            scheduler.notify()

    def release(self, task: StreamTask) -> None:
        """A stream closed: stop scheduling it and drop its avatar's renderer if unused."""
        worker = self._scheduler_of.pop(id(task), None)
        if worker is not None:
            worker.remove(task)
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
        for scheduler in self._schedulers:
            scheduler.close()

    def _acquire_renderer(self, avatar: PreparedAvatar) -> AvatarRenderer:
        # Keyed by identity; the cached avatar reference keeps the id from being reused.
        entry = self._renderers.get(id(avatar))
        if entry is None:
            entry = (avatar, AvatarRenderer(avatar, backend=self._backend), 0)
        self._renderers[id(avatar)] = (entry[0], entry[1], entry[2] + 1)
        return entry[1]
