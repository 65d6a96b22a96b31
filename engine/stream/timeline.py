"""A stream's output audio timeline: every 16 kHz sample the motion model has been fed, in order.

The model sees one continuous signal, speech where a segment was placed and silence elsewhere,
and the output audio is exactly that signal, cut into frames: frame k at `fps` carries samples
[k * 16000 // fps, (k + 1) * 16000 // fps). Positions are integer sample counts from the start of
the stream, so audio and video share one clock with no rounding drift however long it runs.
Speech runs remember their segment and arrival time; segment starts and ends are marks that
fire with the frame that plays them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from engine.contract import OUTPUT_AUDIO_RATE_HZ, VIDEO_CLOCK_HZ


@dataclass(frozen=True)
class SpeechRun:
    start: int  # timeline sample position
    end: int
    segment_id: int
    segment_offset: int  # samples of the segment before `start`
    arrival_s: float


@dataclass(frozen=True)
class SegmentMark:
    kind: Literal["started", "finished"]
    position: int  # timeline sample: the segment's first sample, or one past its last
    segment_id: int
    segment_samples: int  # samples of the segment played when the mark fires


@dataclass(frozen=True)
class FrameAudio:
    samples: NDArray[np.float32]  # (n,) this frame's slice of the timeline
    start: int  # timeline position of samples[0]
    segment_id: int | None  # last segment heard in this frame
    segment_samples: int  # that segment's samples played by the end of this frame
    arrival_s: float | None  # oldest arrival among the speech in this frame
    marks: tuple[SegmentMark, ...]


def frame_start_sample(frame_index: int, fps: int) -> int:
    """Audio pts (in 1 / OUTPUT_AUDIO_RATE_HZ) of frame k: exact integers, no accumulated drift."""
    return frame_index * OUTPUT_AUDIO_RATE_HZ // fps


def frame_video_pts(frame_index: int, fps: int) -> int:
    """Video pts (in 1 / VIDEO_CLOCK_HZ) of frame k; exact for every allowed fps."""
    return frame_index * VIDEO_CLOCK_HZ // fps


class Timeline:
    def __init__(self) -> None:
        self._fed = np.zeros(0, dtype=np.float32)  # samples from self._base on
        self._base = 0
        self._runs: deque[SpeechRun] = deque()
        self._marks: deque[SegmentMark] = deque()
        self._segment_fed: dict[int, int] = {}

    @property
    def fed_samples(self) -> int:
        return self._base + len(self._fed)

    def feed_silence(self, count: int) -> NDArray[np.float32]:
        silence = np.zeros(count, dtype=np.float32)
        self._fed = np.concatenate([self._fed, silence])
        return silence

    def feed_speech(
        self, samples: NDArray[np.float32], segment_id: int, arrival_s: float
    ) -> NDArray[np.float32]:
        start = self.fed_samples
        offset = self._segment_fed.get(segment_id)
        if offset is None:
            offset = 0
            self._marks.append(SegmentMark("started", start, segment_id, 0))
        self._runs.append(SpeechRun(start, start + len(samples), segment_id, offset, arrival_s))
        self._segment_fed[segment_id] = offset + len(samples)
        self._fed = np.concatenate([self._fed, samples])
        return samples

    def end_segment(self, segment_id: int) -> None:
        played = self._segment_fed.pop(segment_id, 0)
        if played == 0:  # an empty segment still starts and finishes
            self._marks.append(SegmentMark("started", self.fed_samples, segment_id, 0))
        self._marks.append(SegmentMark("finished", self.fed_samples, segment_id, played))

    def drop_segments(self, below_id: int) -> None:
        """After clear(): segments with id < below_id lose their pending marks, and their audio
        that was fed but not yet cut into frames is muted (the model keeps what it heard)."""
        for run in self._runs:
            if run.segment_id < below_id:
                self._fed[max(0, run.start - self._base) : max(0, run.end - self._base)] = 0.0
        self._runs = deque(r for r in self._runs if r.segment_id >= below_id)
        self._marks = deque(m for m in self._marks if m.segment_id >= below_id)
        for segment_id in [s for s in self._segment_fed if s < below_id]:
            del self._segment_fed[segment_id]

    def take_frame(self, frame_index: int, fps: int) -> FrameAudio:
        """Frame k's audio and marks; earlier samples are released. Frames go in order."""
        start = frame_start_sample(frame_index, fps)
        end = frame_start_sample(frame_index + 1, fps)
        if start != self._base or end > self.fed_samples:
            raise IndexError(f"frame {frame_index} needs samples [{start}, {end}) fed in order")
        samples = self._fed[: end - start]
        self._fed = self._fed[end - start :]
        self._base = end
        segment_id, segment_samples, arrival_s = self._runs_in(start, end)
        marks = self._marks_until(end)
        return FrameAudio(samples, start, segment_id, segment_samples, arrival_s, marks)

    def _runs_in(self, start: int, end: int) -> tuple[int | None, int, float | None]:
        segment_id, segment_samples, arrival_s = None, 0, None
        for run in self._runs:
            if run.start >= end:
                break
            if run.end > start:
                segment_id = run.segment_id
                segment_samples = run.segment_offset + min(run.end, end) - run.start
                arrival_s = run.arrival_s if arrival_s is None else min(arrival_s, run.arrival_s)
        while self._runs and self._runs[0].end <= end:
            self._runs.popleft()
        return segment_id, segment_samples, arrival_s

    def _marks_until(self, end: int) -> tuple[SegmentMark, ...]:
        fired = []
        while self._marks:
            mark = self._marks[0]
            due = mark.position < end if mark.kind == "started" else mark.position <= end
            if not due:
                break
            fired.append(self._marks.popleft())
        return tuple(fired)
