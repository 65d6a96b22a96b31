"""Prometheus metrics of one server: sessions, frames, delay, degradation, rejections by reason.

Each app gets its own registry, so several apps (tests) never collide in the global one.

Delay (speech audio arrival at the server -> departure of the frame that shows it) is exposed
three ways: `gioconda_session_delay_seconds{session}` (a gauge: each session's latest),
`gioconda_frame_delay_window_seconds` (a histogram over the last DELAY_WINDOW_S only, so it says
how the server is doing now, not since it started), and the cumulative
`gioconda_frame_latency_seconds` histogram for Prometheus' own rate() windows. Frames given up
under load are counted by reason: degraded (`repeated_picture`: the last picture shown again;
`economy_motion_window`: a motion window sampled with fewer steps) and dropped
(`encoder_behind`: the video encoder fell behind and the oldest frame went); and live clocks
re-anchored after a stalled peer. process_cpu_seconds_total is the server process's CPU.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Protocol

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from engine.contract import DegradationCounts

LATENCY_BUCKETS_S = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
DELAY_WINDOW_S = 30.0
MAX_WINDOW_SAMPLES = 20_000  # 30 s of 40 fps for 16 sessions


class CountingEngine(Protocol):
    @property
    def stats(self) -> DegradationCounts: ...


class SlidingHistogram(Collector):
    """A histogram of the values observed in the last `window_s` (thread-safe)."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...], window_s: float):
        self._name = name
        self._documentation = documentation
        self._buckets = buckets
        self._window_s = window_s
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, float]] = deque(maxlen=MAX_WINDOW_SAMPLES)

    def observe(self, value: float) -> None:
        with self._lock:
            self._samples.append((time.monotonic(), value))

    def values(self) -> list[float]:
        since = time.monotonic() - self._window_s
        with self._lock:
            while self._samples and self._samples[0][0] < since:
                self._samples.popleft()
            return [value for _, value in self._samples]

    def collect(self) -> Iterator[Metric]:
        values = np.asarray(self.values())
        buckets = [(f"{b}", float(np.sum(values <= b))) for b in self._buckets]
        buckets.append(("+Inf", float(len(values))))
        yield HistogramMetricFamily(
            self._name, self._documentation, buckets=buckets, sum_value=float(values.sum())
        )


class EngineCounters(Collector):
    """The engine's degradation counters, read when /metrics is scraped."""

    def __init__(self) -> None:
        self.engine: CountingEngine | None = None

    def collect(self) -> Iterator[Metric]:
        stats = self.engine.stats if self.engine is not None else None
        degraded = CounterMetricFamily(
            "gioconda_frames_degraded",
            "live frames made cheaper because the engine was behind, by reason",
            labels=["reason"],
        )
        degraded.add_metric(["repeated_picture"], stats.frames_repeated if stats else 0)
        degraded.add_metric(["economy_motion_window"], stats.economy_windows if stats else 0)
        yield degraded
        yield CounterMetricFamily(
            "gioconda_clock_resyncs",
            "live media clocks re-anchored because the peer stopped pulling frames",
            value=stats.resyncs if stats else 0,
        )


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sessions_active = Gauge(
            "gioconda_sessions_active", "live sessions", registry=self.registry
        )
        self.sessions_total = Counter(
            "gioconda_sessions", "sessions created", registry=self.registry
        )
        self.sessions_closed = Counter(
            "gioconda_sessions_closed",
            "sessions closed, by cause",
            ["cause"],
            registry=self.registry,
        )
        self.frames_sent = Counter(
            "gioconda_frames_sent", "video frames handed to the encoder", registry=self.registry
        )
        self.frames_dropped = Counter(
            "gioconda_frames_dropped",
            "frames that never reached the video encoder, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.frame_latency = Histogram(
            "gioconda_frame_latency_seconds",
            "speech audio arrival at the server -> departure of the frame that shows it "
            "(cumulative: use rate(); gioconda_frame_delay_window_seconds is the recent one)",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.frame_delay_window = SlidingHistogram(
            "gioconda_frame_delay_window_seconds",
            f"speech audio arrival -> frame departure, frames of the last {DELAY_WINDOW_S:.0f} s",
            LATENCY_BUCKETS_S,
            DELAY_WINDOW_S,
        )
        self.registry.register(self.frame_delay_window)
        self.session_delay = Gauge(
            "gioconda_session_delay_seconds",
            "each live session's latest speech audio arrival -> frame departure",
            ["session"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "gioconda_rejections", "refused requests, by reason", ["reason"], registry=self.registry
        )
        self._engine_counters = EngineCounters()
        self.registry.register(self._engine_counters)
        ProcessCollector(registry=self.registry)

    def watch(self, engine: CountingEngine) -> None:
        """Expose this engine's degradation counters."""
        self._engine_counters.engine = engine

    def frame_delay(self, session_id: str, delay_s: float) -> None:
        self.frame_latency.observe(delay_s)
        self.frame_delay_window.observe(delay_s)
        self.session_delay.labels(session=session_id).set(delay_s)

    def session_ended(self, session_id: str) -> None:
        try:
            self.session_delay.remove(session_id)
        except KeyError:  # it never carried speech
            pass

    def reject(self, reason: str) -> None:
        self.rejections.labels(reason=reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
