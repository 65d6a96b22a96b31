"""One model worker thread shared by every stream of an engine, round robin, batched.

Each round visits the active streams in rotating order; a stream whose frame channel has room
contributes either one motion window request or up to `frames_per_round` frames. Window
requests that share a model and sampling setup run as one batched sampler call; frames of the
same avatar run as one decoder batch, and where renderers can stack avatars (the torch decoder
on CUDA, engine/render/renderer.py) frames of different avatars do too, up to `max_decoder_batch`.
A stream's failure (its pipeline or its share of a batch) closes that stream alone; the worker
and the other streams keep going.

Falling behind (live streams only): frame k is due at anchor + k / fps on the consumer's media
clock. A stream that is late renders only every 2nd, 4th or 8th frame (late by > 1, > 3, > 6
frames) and repeats the last picture in between; motion and audio are never skipped, so A/V sync
holds and the decoder cost drops until the stream is on time again. More than RESYNC_S late (a
stalled consumer) re-anchors the clock instead of accumulating debt.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from typing import TypeVar

import numpy as np
import torch
from numpy.typing import NDArray

from engine.errors import EngineError
from engine.motion.batch import WindowRequest, sample_windows
from engine.render.renderer import render_stacked
from engine.stream.pipeline import PipelineFrame
from engine.stream.task import ReadyFrame, StreamTask
from models.motion_dit import MotionDiT

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.05
RESYNC_S = 1.0
LATE_STRIDES = ((6.0, 8), (3.0, 4), (1.0, 2))  # (late by more than N frames, render 1 in k)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class FrameJob:
    task: StreamTask
    frame: PipelineFrame
    render: bool


@dataclass
class SchedulerStats:
    rounds: int = 0
    windows: int = 0
    window_batches: int = 0
    frames_rendered: int = 0
    frames_repeated: int = 0
    render_batches: int = 0
    stacked_batches: int = 0  # decoder calls that rendered frames of more than one avatar
    sampler_s: float = 0.0
    encoder_s: float = 0.0
    decoder_s: float = 0.0
    by_stream_failures: dict[int, str] = field(default_factory=dict)

    @classmethod
    def combined(cls, parts: list[SchedulerStats]) -> SchedulerStats:
        """The sum of several workers' stats (a snapshot)."""
        total = cls()
        for part in parts:
            for f in fields(cls):
                if f.name == "by_stream_failures":
                    total.by_stream_failures.update(part.by_stream_failures)
                else:
                    setattr(total, f.name, getattr(total, f.name) + getattr(part, f.name))
        return total


class Scheduler:
    def __init__(
        self,
        threads: int = 1,
        frames_per_round: int = 2,
        max_decoder_batch: int = 64,
        denoiser: MotionDiT | None = None,
    ) -> None:
        """denoiser: what samples motion windows (engine/backends/motion.sampling_denoiser);
        None: each stream's model's own DiT."""
        self._threads = threads
        self._denoiser = denoiser
        self._frames_per_round = frames_per_round
        self._max_decoder_batch = max_decoder_batch
        self._tasks: list[StreamTask] = []
        self._wake = threading.Condition()
        self._closed = False
        self._round = 0
        self._calls: list[Callable[[], None]] = []
        self.stats = SchedulerStats()
        self._thread = threading.Thread(target=self._run, name="gioconda-model-worker", daemon=True)
        self._thread.start()

    def add(self, task: StreamTask) -> None:
        with self._wake:
            self._tasks.append(task)
            self._wake.notify()

    @property
    def load(self) -> int:
        """Streams this worker serves."""
        with self._wake:
            return len(self._tasks)

    def remove(self, task: StreamTask) -> None:
        with self._wake:
            if task in self._tasks:
                self._tasks.remove(task)

    def notify(self) -> None:
        with self._wake:
            self._wake.notify()

    def call(self, work: Callable[[], object]) -> None:
        """Run `work` on the worker thread once (used by warm-up); returns when it has run."""
        done = threading.Event()
        errors: list[BaseException] = []

        def wrapped() -> None:
            try:
                work()
            except Exception as exc:  # re-raised in the caller's thread
                errors.append(exc)
            finally:
                done.set()

        with self._wake:
            if self._closed:
                raise EngineError("the engine is closed", reason="engine_closed")
            self._calls.append(wrapped)
            self._wake.notify()
        done.wait()
        if errors:
            raise errors[0]

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        torch.set_num_threads(self._threads)
        while True:
            with self._wake:
                calls, self._calls = self._calls, []
                if self._closed and not calls:
                    return
                tasks = self._rotated()
            for call in calls:
                call()
            if not self._one_round(tasks):
                with self._wake:
                    if not self._closed and not self._calls:
                        self._wake.wait(IDLE_WAIT_S)

    def _rotated(self) -> list[StreamTask]:
        self._round += 1
        if not self._tasks:
            return []
        start = self._round % len(self._tasks)
        return self._tasks[start:] + self._tasks[:start]

    def _one_round(self, tasks: list[StreamTask]) -> bool:
        requests: list[WindowRequest] = []
        jobs: list[FrameJob] = []
        now_s = time.monotonic()
        for task in tasks:
            try:
                self._plan(task, now_s, requests, jobs)
            except Exception as exc:
                self._fail(task, exc)
        self._sample(requests, tasks)
        self._render(jobs)
        self.stats.rounds += 1
        return bool(requests or jobs)

    def _plan(
        self, task: StreamTask, now_s: float, requests: list[WindowRequest], jobs: list[FrameJob]
    ) -> None:
        room = task.channel.room()
        if not task.started or room == 0:
            return
        pipeline = task.pipeline
        if pipeline.needs_window():
            start = time.perf_counter()
            may_wait = not task.realtime or task.channel.buffered() > 0
            request = pipeline.request_window(may_wait)
            self.stats.encoder_s += time.perf_counter() - start
            if request is not None:
                requests.append(request)
            return
        for _ in range(min(room, self._frames_per_round)):
            if pipeline.needs_window():
                break
            frame = pipeline.take_frame()
            stride = self._stride(task, frame.index, now_s)
            jobs.append(FrameJob(task, frame, render=frame.index % stride == 0))

    def _stride(self, task: StreamTask, frame_index: int, now_s: float) -> int:
        if not task.realtime or task.last_picture is None:
            return 1
        late_frames = (now_s - task.anchor_s) * task.pipeline.fps - frame_index
        if late_frames > RESYNC_S * task.pipeline.fps:
            task.anchor_s = now_s - frame_index / task.pipeline.fps
            return 1
        return next((stride for limit, stride in LATE_STRIDES if late_frames > limit), 1)

    def _sample(self, requests: list[WindowRequest], tasks: list[StreamTask]) -> None:
        groups: dict[object, list[WindowRequest]] = defaultdict(list)
        for request in requests:
            groups[request.batch_key].append(request)
        owner = {id(task.pipeline.motion): task for task in tasks}
        for group in groups.values():
            start = time.perf_counter()
            results = self._batched(
                group,
                functools.partial(sample_windows, denoiser=self._denoiser),
                lambda r: owner[id(r.stream)],
            )
            self.stats.sampler_s += time.perf_counter() - start
            self.stats.window_batches += 1
            for request, frames in results:
                owner[id(request.stream)].pipeline.add_window(frames)
                self.stats.windows += 1

    def _render(self, jobs: list[FrameJob]) -> None:
        groups: dict[Hashable, list[FrameJob]] = defaultdict(list)
        for job in jobs:
            if job.render:
                renderer = job.task.renderer
                groups[renderer.stack_key or id(renderer)].append(job)
        pictures: dict[int, NDArray[np.uint8]] = {}
        for whole in groups.values():
            for first in range(0, len(whole), self._max_decoder_batch):
                group = whole[first : first + self._max_decoder_batch]
                start = time.perf_counter()
                results = self._batched(group, self._render_group, lambda job: job.task)
                self.stats.decoder_s += time.perf_counter() - start
                self.stats.render_batches += 1
                pictures.update({id(job): picture for job, picture in results})
        for job in jobs:
            self._deliver(job, pictures.get(id(job)))

    def _render_group(self, group: list[FrameJob]) -> list[NDArray[np.uint8]]:
        if len({id(job.task.renderer) for job in group}) == 1:
            motion = np.stack([job.frame.motion for job in group])  # (B, M)
            return list(group[0].task.renderer.render(motion))
        # Frames of different avatars: one decoder call, their tensors stacked per frame.
        self.stats.stacked_batches += 1
        parts = render_stacked([(job.task.renderer, job.frame.motion[None]) for job in group])
        return [frames[0] for frames in parts]

    def _deliver(self, job: FrameJob, picture: NDArray[np.uint8] | None) -> None:
        task = job.task
        if task.failed:
            return
        if picture is None:
            picture = task.last_picture
            self.stats.frames_repeated += 1
        else:
            self.stats.frames_rendered += 1
        if picture is None:  # its render failed: the stream was closed
            return
        task.last_picture = picture
        task.channel.put(ReadyFrame(job.frame, picture))

    def _batched(
        self,
        group: list[Item],
        run: Callable[[list[Item]], list[Result]],
        owner_of: Callable[[Item], StreamTask],
    ) -> list[tuple[Item, Result]]:
        """Run a batch; if it fails, run its items one by one and fail only their owners."""
        try:
            return list(zip(group, run(group), strict=True))
        except Exception as exc:
            if len(group) == 1:
                self._fail(owner_of(group[0]), exc)
                return []
        results: list[tuple[Item, Result]] = []
        for item in group:
            results.extend(self._batched([item], run, owner_of))
        return results

    def _fail(self, task: StreamTask, exc: Exception) -> None:
        log.error("stream %s failed and is closed", task.name, exc_info=exc)
        self.stats.by_stream_failures[id(task)] = repr(exc)
        task.fail(exc)
        self.remove(task)
