"""The fallback voice: espeak-ng (Debian's libespeak-ng1) through models.synth.espeak."""

from __future__ import annotations

import threading

import numpy as np
import soxr
from numpy.typing import NDArray

from engine.voice.base import VOICE_RATE_HZ


class EspeakVoice:
    def __init__(self, voice_name: str = "en-us") -> None:
        from models.synth.espeak import ESPEAK_RATE_HZ, EspeakSynth

        EspeakSynth.get()  # fails here, with the install hint, when libespeak-ng is missing
        self._voice_name = voice_name
        self._rate_hz = ESPEAK_RATE_HZ
        self._lock = threading.Lock()  # libespeak-ng is one global synthesiser per process
        self.name = f"espeak-ng:{voice_name}"

    def synthesize(self, phrase: str) -> NDArray[np.float32]:
        from models.synth.espeak import Voice, synthesize

        with self._lock:
            utterance = synthesize(phrase, Voice(self._voice_name))
        audio = utterance.samples_22k.astype(np.float32) / 32768.0
        resampled = soxr.resample(audio, self._rate_hz, VOICE_RATE_HZ, quality="HQ")
        speech: NDArray[np.float32] = np.clip(resampled, -1.0, 1.0).astype(np.float32)
        return speech
