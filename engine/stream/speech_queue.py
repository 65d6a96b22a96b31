"""Speech waiting to be placed on a stream's timeline: filled by the caller, drained by the worker.

Thread-safe: the event loop pushes, ends and clears; the model worker takes samples. Bounded:
at most MAX_QUEUED_S of audio may wait; a push beyond that is refused with AudioError
(reason queue_full) and the caller retries later (back-pressure, nothing is dropped silently).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.errors import AudioError

ENGINE_RATE_HZ = 16_000
MAX_QUEUED_S = 30.0


@dataclass
class SpeechChunk:
    segment_id: int
    samples: NDArray[np.float32]  # (n,) 16 kHz
    arrival_s: float  # time.monotonic() when it entered the stream


@dataclass(frozen=True)
class SegmentEnd:
    segment_id: int


QueueItem = SpeechChunk | SegmentEnd


class SpeechQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[QueueItem] = deque()
        self._queued_samples = 0
        self._next_segment_id = 1
        self.open_segment: int | None = None  # receiving audio, end_segment() not yet called
        self.clear_count = 0  # bumped by clear(); the worker compares it with what it saw
        self.cleared_below = 0  # segments with a smaller id were interrupted by clear()

    @property
    def queued_s(self) -> float:
        return self._queued_samples / ENGINE_RATE_HZ

    def check_room(self, extra_samples: int) -> None:
        if self._queued_samples + extra_samples > MAX_QUEUED_S * ENGINE_RATE_HZ:
            raise AudioError(
                f"more than {MAX_QUEUED_S:.0f} s of audio queued; push again when it has played",
                "queue_full",
            )

    def push(self, samples: NDArray[np.float32], arrival_s: float) -> tuple[int, bool]:
        """Queue samples on the open segment (opening one) -> (segment id, opened now)."""
        with self._lock:
            opened = self.open_segment is None
            if self.open_segment is None:
                self.open_segment = self._next_segment_id
                self._next_segment_id += 1
            if len(samples):
                self._items.append(SpeechChunk(self.open_segment, samples, arrival_s))
                self._queued_samples += len(samples)
            return self.open_segment, opened

    def end(self) -> int | None:
        with self._lock:
            segment, self.open_segment = self.open_segment, None
            if segment is not None:
                self._items.append(SegmentEnd(segment))
            return segment

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._queued_samples = 0
            self.open_segment = None
            self.clear_count += 1
            self.cleared_below = self._next_segment_id

    def front_segment(self) -> tuple[int, int, bool] | None:
        """(segment id, its samples queued, whether its end is queued) of the front item."""
        with self._lock:
            if not self._items:
                return None
            segment_id = self._items[0].segment_id
            queued = 0
            for item in self._items:
                if item.segment_id != segment_id or isinstance(item, SegmentEnd):
                    return segment_id, queued, True
                queued += len(item.samples)
            return segment_id, queued, False

    def take(self, max_samples: int) -> QueueItem | None:
        """The front item, a chunk cut to at most max_samples; None when empty."""
        with self._lock:
            if not self._items:
                return None
            item = self._items[0]
            if isinstance(item, SegmentEnd) or len(item.samples) <= max_samples:
                self._items.popleft()
                self._queued_samples -= 0 if isinstance(item, SegmentEnd) else len(item.samples)
                return item
            head = SpeechChunk(item.segment_id, item.samples[:max_samples], item.arrival_s)
            item.samples = item.samples[max_samples:]
            self._queued_samples -= max_samples
            return head
