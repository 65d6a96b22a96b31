"""Admission by measured capacity: a new live session is refused when it would push the sessions
already running past their budget.

The engine measures what a full-quality frame costs on this machine as it is now (smoothed
over a sliding window, engine/stream/capacity.py) and projects a worker's load with one more
session at its frame rate. Above the budget (`admit_max_load` in the settings, default
ADMIT_MAX_LOAD: seconds of work per second of a worker; 0 turns the check off) the session is
refused with 503 `server_full` and Retry-After (server/errors.py), and /readyz says
the server is full, so a load balancer sends the call elsewhere. The first session is always
admitted: there is nothing to protect, and it degrades gracefully on its own.
"""

from __future__ import annotations

from typing import Protocol

from server.errors import ServerError

ADMIT_MAX_LOAD = 0.9  # of a worker's time: the rest absorbs jitter before streams degrade
PROBE_FPS = 40  # the session /readyz asks about: the default rate


class MeasuredEngine(Protocol):
    def load(self, extra_fps: int = 0) -> float | None: ...


def refusal(
    engine: MeasuredEngine, fps: int, live_sessions: int, max_load: float = ADMIT_MAX_LOAD
) -> str | None:
    """Why a new session at `fps` would be refused now, or None if it is admitted."""
    if live_sessions == 0 or max_load <= 0:
        return None
    projected = engine.load(extra_fps=fps)
    if projected is None or projected <= max_load:
        return None
    current = engine.load() or 0.0
    return (
        f"the server is full: its {live_sessions} session(s) use {current:.0%} of the engine's "
        f"measured capacity, and one more {fps} fps session would need {projected:.0%} (the "
        f"budget is {max_load:.0%}); try again later"
    )


def check_admission(
    engine: MeasuredEngine, fps: int, live_sessions: int, max_load: float = ADMIT_MAX_LOAD
) -> None:
    reason = refusal(engine, fps, live_sessions, max_load)
    if reason is not None:
        raise ServerError(reason, "server_full")
