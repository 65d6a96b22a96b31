"""One model worker thread shared by every stream of an engine, round robin, batched.

Each round visits the active streams in rotating order; a stream whose frame channel has room
contributes either one motion window request or up to `frames_per_round` frames. Window
requests that share a model and sampling setup run as one batched sampler call; frames of the
same avatar run as one decoder batch, and where renderers can stack avatars (the torch decoder
on CUDA, engine/render/renderer.py) frames of different avatars do too, up to `max_decoder_batch`.
A stream's failure (its pipeline or its share of a batch) closes that stream alone; the worker
and the other streams keep going.

Falling behind (live streams only): engine/stream/degrade.py decides, per frame, whether to
decode a new picture (if the worker can finish it in time, by its measured cost) or repeat the
last; motion and audio are never skipped, so A/V sync holds and the stream catches up instead of
queueing. The worker keeps the recent cost of one picture and of one motion window for that.
"""

from __future__ import annotations

import functools
import logging
import statistics
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

import numpy as np
import torch
from numpy.typing import NDArray

from engine.errors import EngineError
from engine.motion.batch import WindowRequest, sample_windows
from engine.render.renderer import AvatarRenderer, render_stacked
from engine.stream.capacity import FrameCost
from engine.stream.degrade import CATCH_UP_FRAMES, catching_up, decide, economy_motion
from engine.stream.pipeline import PipelineFrame
from engine.stream.task import ReadyFrame, StreamTask
from models.motion_dit import MotionDiT

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.05
# A live stream whose pictures cost more than a frame period may make this many frames beyond
# its channel: a picture can then start before the frame before it has left (bench stream
# beside two busy processes: without it the worker idled a quarter of the time while frames
# repeated). It adds nothing to the delay while pictures are cheaper than a frame period.
AHEAD_FRAMES = 1
# The picture and window costs the deadline uses: the median of the last COST_SAMPLES batches.
# A median, not a mean: on a shared CPU one batch in a few takes several times as long (the thread
# was preempted), and a mean raised by one such spike repeated the next pictures for nothing.
COST_SAMPLES = 9

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
    frames_repeated: int = 0  # live frames that showed the last picture again (late)
    resyncs: int = 0  # live clocks re-anchored after a stalled consumer
    economy_windows: int = 0  # motion windows sampled with fewer steps (late live streams)
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
        self.cost = FrameCost()  # measured per-frame cost, for admission
        self._picture_s = RecentCost()  # decoder seconds per picture
        self._window_s = RecentCost()  # sampler seconds per motion window
        self._round_due_s: float | None = None  # earliest due frame planned this round
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
        motion_before = self.stats.encoder_s + self.stats.sampler_s
        decoder_before = self.stats.decoder_s
        self._round_due_s = None
        for task in tasks:
            try:
                self._plan(task, requests, jobs)
            except Exception as exc:
                self._fail(task, exc)
        self._sample(requests, tasks)
        self._render(jobs)
        self.stats.rounds += 1
        if jobs:
            self.cost.record(
                self.stats.encoder_s + self.stats.sampler_s - motion_before,
                len(jobs),
                self.stats.decoder_s - decoder_before,
                sum(job.render for job in jobs),
            )
        return bool(requests or jobs)

    def live_fps(self) -> int:
        """Frames per second this worker owes its live streams."""
        with self._wake:
            return sum(task.pipeline.fps for task in self._tasks if task.realtime)

    def _plan(self, task: StreamTask, requests: list[WindowRequest], jobs: list[FrameJob]) -> None:
        room = task.channel.room()
        if task.realtime and self._slower_than_real_time(task):
            # A picture takes longer than a frame period: the worker may start the next frame
            # while the last one waits to leave, instead of idling until the channel has room.
            room += AHEAD_FRAMES
        if not task.started or room <= 0:
            return
        per_round = self._frames_per_round
        if task.realtime and catching_up(task.late_frames):
            # Late frames leave as soon as they are made: let the channel take a run of them,
            # so the worker and the consumer do not hand over one frame at a time.
            room += CATCH_UP_FRAMES
            per_round = max(per_round, CATCH_UP_FRAMES)
        pipeline = task.pipeline
        if pipeline.needs_window():
            start = time.perf_counter()
            may_wait = not task.realtime or task.channel.buffered() > 0
            request = pipeline.request_window(may_wait)
            self.stats.encoder_s += time.perf_counter() - start
            if request is not None:
                if task.realtime and economy_motion(task.late_frames):
                    request = replace(request, economy=True)
                    self.stats.economy_windows += 1
                requests.append(request)
            return
        for _ in range(min(room, per_round)):
            if pipeline.needs_window():
                break
            frame = pipeline.take_frame()
            render = task.renderer is not None and self._renders(task, frame.index, requests, jobs)
            jobs.append(FrameJob(task, frame, render=render))

    def _slower_than_real_time(self, task: StreamTask) -> bool:
        picture_s = self._picture_s.typical()
        return picture_s is not None and picture_s * task.pipeline.fps > 1.0

    def _renders(
        self,
        task: StreamTask,
        frame_index: int,
        requests: list[WindowRequest],
        jobs: list[FrameJob],
    ) -> bool:
        """Whether this frame gets a new picture (engine/stream/degrade.py), given the windows
        and pictures already planned in this round, which are made before it leaves."""
        if not task.realtime or task.last_picture is None:
            return True
        now_s = time.monotonic()
        ready_s = None
        picture_s = self._picture_s.typical()
        if picture_s is not None:
            pictures = sum(job.render for job in jobs) + 1
            window_s = self._window_s.typical() or 0.0
            ready_s = now_s + len(requests) * window_s + pictures * picture_s
        fps = task.pipeline.fps
        decision = decide(
            now_s,
            task.anchor_s,
            frame_index,
            fps,
            ready_s=ready_s,
            round_due_s=self._round_due_s,
            repeats=task.repeats,
        )
        task.late_frames = decision.late_frames
        if decision.resync:
            task.anchor_s = now_s - frame_index / fps
            self.stats.resyncs += 1
        due_s = task.anchor_s + frame_index / fps
        self._round_due_s = due_s if self._round_due_s is None else min(self._round_due_s, due_s)
        task.repeats = 0 if decision.render else task.repeats + 1
        return decision.render

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
            elapsed = time.perf_counter() - start
            self.stats.sampler_s += elapsed
            self._window_s.add(elapsed / len(group))
            self.stats.window_batches += 1
            for request, frames in results:
                owner[id(request.stream)].pipeline.add_window(frames)
                self.stats.windows += 1

    def _render(self, jobs: list[FrameJob]) -> None:
        groups: dict[Hashable, list[FrameJob]] = defaultdict(list)
        for job in jobs:
            renderer = job.task.renderer
            if job.render and renderer is not None:
                groups[renderer.stack_key or id(renderer)].append(job)
        pictures: dict[int, NDArray[np.uint8]] = {}
        for whole in groups.values():
            for first in range(0, len(whole), self._max_decoder_batch):
                group = whole[first : first + self._max_decoder_batch]
                start = time.perf_counter()
                results = self._batched(group, self._render_group, lambda job: job.task)
                elapsed = time.perf_counter() - start
                self.stats.decoder_s += elapsed
                self._picture_s.add(elapsed / len(group))
                self.stats.render_batches += 1
                pictures.update({id(job): picture for job, picture in results})
        for job in jobs:
            self._deliver(job, pictures.get(id(job)))

    def _render_group(self, group: list[FrameJob]) -> list[NDArray[np.uint8]]:
        pairs = [(_renderer_of(job), job.frame.motion) for job in group]
        if len({id(renderer) for renderer, _ in pairs}) == 1:
            motion = np.stack([m for _, m in pairs])  # (B, M)
            return list(pairs[0][0].render(motion))
        # Frames of different avatars: one decoder call, their tensors stacked per frame.
        self.stats.stacked_batches += 1
        parts = render_stacked([(renderer, m[None]) for renderer, m in pairs])
        return [frames[0] for frames in parts]

    def _deliver(self, job: FrameJob, picture: NDArray[np.uint8] | None) -> None:
        task = job.task
        if task.failed:
            return
        if task.renderer is None:  # motion and audio only: nothing to decode or repeat
            task.channel.put(ReadyFrame(job.frame, None))
            return
        if picture is None:
            picture = task.last_picture  # already marked
            self.stats.frames_repeated += 1
        else:
            # The invisible mark goes on here, on the worker, so every consumer (each transport,
            # the offline render) gets it; a server transport's visible label goes on later.
            if task.watermark is not None:
                picture = task.watermark.embed(picture)
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


class RecentCost:
    """Seconds per item of the last COST_SAMPLES batches (worker thread only)."""

    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=COST_SAMPLES)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def typical(self) -> float | None:
        """The median; None before the first batch."""
        return statistics.median(self._samples) if self._samples else None


def _renderer_of(job: FrameJob) -> AvatarRenderer:
    renderer = job.task.renderer
    assert renderer is not None, "only frames of streams with video are rendered"
    return renderer
