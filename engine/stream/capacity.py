"""What a model worker can still take: its measured per-frame cost over a sliding window.

The worker records, per round, the seconds it spent on motion (audio encoder and sampler) for
how many frames, and on the decoder for how many pictures. Over the last WINDOW_S the cost of
one full-quality frame is motion seconds per frame + decoder seconds per picture; it is wall
time on this machine as it is now, so a machine that other work slows down measures slower.
A worker serving live streams at F frames/s in total is then loaded F x cost seconds per
second: past 1.0 its streams are degraded (engine/stream/degrade.py). The server admits a new
session only if that projection stays under its budget (server/admission.py).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

WINDOW_S = 10.0


@dataclass(frozen=True)
class RoundCost:
    at_s: float  # time.monotonic() at the end of the round
    motion_s: float  # audio encoder + sampler
    frames: int
    decoder_s: float
    pictures: int


class FrameCost:
    """Thread-safe: the worker records, anyone reads."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self._window_s = window_s
        self._lock = threading.Lock()
        self._rounds: deque[RoundCost] = deque()

    def record(self, motion_s: float, frames: int, decoder_s: float, pictures: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._rounds.append(RoundCost(now, motion_s, frames, decoder_s, pictures))
            while self._rounds and self._rounds[0].at_s < now - self._window_s:
                self._rounds.popleft()

    def per_frame_s(self) -> float | None:
        """Seconds one full-quality frame costs (motion + one decoded picture) over the last
        window; None until the window has seen both frames and pictures."""
        now = time.monotonic()
        with self._lock:
            recent = [r for r in self._rounds if r.at_s >= now - self._window_s]
        frames = sum(r.frames for r in recent)
        pictures = sum(r.pictures for r in recent)
        if frames == 0 or pictures == 0:
            return None
        motion_s = sum(r.motion_s for r in recent)
        decoder_s = sum(r.decoder_s for r in recent)
        return motion_s / frames + decoder_s / pictures
