"""A small agent-speech client: stream a sound file to `WS /v1/sessions/{id}/speech` in real time,
as an agent's TTS would, and report the server's playback events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import websockets
from numpy.typing import NDArray

CHUNK_MS = 20


@dataclass(frozen=True)
class SpeakResult:
    sent_s: float  # seconds of audio sent
    events: list[dict[str, Any]]


def load_pcm(path: Path, rate_hz: int) -> NDArray[np.int16]:
    """A sound file (any format PyAV reads) as int16 mono at rate_hz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_hz)
    chunks: list[NDArray[np.generic]] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def speech_url(base_url: str, session_id: str, api_key: str | None = None) -> str:
    url = base_url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    url = f"{url}/v1/sessions/{session_id}/speech"
    return f"{url}?api_key={api_key}" if api_key else url


async def speak(
    url: str,
    samples: NDArray[np.int16],
    rate_hz: int,
    *,
    realtime: bool = True,
    clear_after_s: float | None = None,
    wait_s: float = 30.0,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> SpeakResult:
    """Send start, the samples in 20 ms chunks (paced in real time), end (or clear after
    `clear_after_s`), then wait for playback_finished."""
    events: list[dict[str, Any]] = []
    chunk = rate_hz * CHUNK_MS // 1000
    async with websockets.connect(url) as ws:
        finished = asyncio.get_running_loop().create_task(_collect(ws, events, on_event))
        await ws.send(json.dumps({"type": "start", "sample_rate": rate_hz}))
        start = time.monotonic()
        sent = 0
        while sent < len(samples):
            if clear_after_s is not None and sent >= clear_after_s * rate_hz:
                await ws.send(json.dumps({"type": "clear"}))
                break
            await ws.send(samples[sent : sent + chunk].astype("<i2").tobytes())
            sent += chunk
            if realtime:
                await asyncio.sleep(max(0.0, start + sent / rate_hz - time.monotonic()))
        else:
            await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(finished, wait_s)
    return SpeakResult(min(sent, len(samples)) / rate_hz, events)


async def _collect(
    ws: Any, events: list[dict[str, Any]], on_event: Callable[[dict[str, Any]], None] | None
) -> None:
    async for raw in ws:
        event = json.loads(raw)
        event["received_s"] = time.monotonic()
        events.append(event)
        if on_event is not None:
            on_event(event)
        if event.get("type") == "playback_finished":
            return
