"""Typed text spoken into a live stream: phrases synthesised on a thread, pushed as they come.

`speak_text` synthesises phrase 1, pushes it (the avatar starts speaking), then synthesises
phrase 2 while phrase 1 plays, and so on; all phrases form one segment, so the stream reports
one playback_started and one playback_finished. Synthesis never runs on the event loop. A
stream whose queue is full (engine.stream.engine MAX_QUEUED_S) is waited on, not dropped. Cancelling
the task stops synthesis; the caller clears the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.contract import SessionStream
from engine.errors import AudioError, EngineError
from engine.stream.audio_input import MAX_CHUNK_S
from engine.voice.base import VOICE_RATE_HZ, Voice, checked_text, split_phrases

log = logging.getLogger(__name__)

QUEUE_FULL_RETRY_S = 0.2


@dataclass(frozen=True)
class SpeechReport:
    voice: str
    phrases: int
    audio_s: float
    synthesis_s: float  # wall time spent synthesising
    first_audio_s: float  # from the call to the first phrase reaching the stream

    @property
    def real_time_factor(self) -> float:
        return self.synthesis_s / self.audio_s if self.audio_s > 0 else 0.0


async def speak_text(stream: SessionStream, voice: Voice, text: str) -> SpeechReport:
    """Say `text` on `stream` (EngineError empty_text/text_too_long before anything plays)."""
    phrases = split_phrases(checked_text(text))
    start = time.perf_counter()
    first_audio_s = 0.0
    synthesis_s = 0.0
    audio_s = 0.0
    try:
        for index, phrase in enumerate(phrases):
            began = time.perf_counter()
            audio = await asyncio.to_thread(voice.synthesize, phrase)
            synthesis_s += time.perf_counter() - began
            await _push(stream, audio)
            if index == 0:
                first_audio_s = time.perf_counter() - start
            audio_s += len(audio) / VOICE_RATE_HZ
    finally:
        with contextlib.suppress(EngineError):  # the stream may have closed meanwhile
            stream.end_segment()
    report = SpeechReport(voice.name, len(phrases), audio_s, synthesis_s, first_audio_s)
    log.info(
        "%s said %d phrase(s), %.2f s of speech; first audio after %.2f s, real-time factor %.2f",
        report.voice,
        report.phrases,
        report.audio_s,
        report.first_audio_s,
        report.real_time_factor,
    )
    return report


async def _push(stream: SessionStream, samples: NDArray[np.float32]) -> None:
    step = int(MAX_CHUNK_S * VOICE_RATE_HZ)
    for begin in range(0, len(samples), step):
        chunk = samples[begin : begin + step]
        while True:
            try:
                stream.push_audio(chunk, VOICE_RATE_HZ)
                break
            except AudioError as exc:
                if exc.reason != "queue_full":
                    raise
                await asyncio.sleep(QUEUE_FULL_RETRY_S)  # back-pressure: the stream plays on
