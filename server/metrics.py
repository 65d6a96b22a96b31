"""Prometheus metrics of one server: sessions, frames, frame latency, rejections by reason.

Each app gets its own registry, so several apps (tests) never collide in the global one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS_S = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


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
            "frames dropped because the consumer fell behind the media clock",
            registry=self.registry,
        )
        self.frame_latency = Histogram(
            "gioconda_frame_latency_seconds",
            "speech audio arrival at the server -> departure of the frame that shows it",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.rejections = Counter(
            "gioconda_rejections", "refused requests, by reason", ["reason"], registry=self.registry
        )

    def reject(self, reason: str) -> None:
        self.rejections.labels(reason=reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
