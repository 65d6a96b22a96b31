"""The delay-under-load summary shared by `bench stream` and `bench webrtc --background-load`:
values per LOAD_WINDOW_S window of a call, reduced to their spread and trend (issue 13's bounds).
Light on purpose (numpy only): the WebRTC client imports it without torch."""

from __future__ import annotations

import numpy as np

LOAD_WINDOW_S = 4.0


def spread_and_trend(starts_s: list[float], values_ms: list[float]) -> tuple[float, float]:
    """(max - min, least-squares slope per LOAD_WINDOW_S) of per-window values, in ms; one
    window has no trend (0). The slope is fitted on the windows' start times, so an empty window
    between two others does not shorten the call."""
    values = np.asarray(values_ms, np.float64)
    slope = np.polyfit(np.asarray(starts_s, np.float64), values, 1)[0] if len(values) > 1 else 0.0
    return float(values.max() - values.min()), float(slope * LOAD_WINDOW_S)
