"""`GiocondaTTSService`: Gioconda's built-in voice (engine/voice: Piper's en_US-joe-medium, else
espeak-ng) as a Pipecat TTS service, so a bot speaks with no keys and no downloads. Each phrase
is synthesised on a thread and pushed as soon as it is ready (16 kHz int16)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService

from engine.voice.base import VOICE_RATE_HZ, split_phrases
from engine.voice.select import load_voice


class GiocondaTTSService(TTSService):  # type: ignore[misc,unused-ignore]  # no stubs without the extra
    def __init__(self, *, voice: str = "auto", **kwargs: Any) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            sample_rate=VOICE_RATE_HZ,
            settings=TTSSettings(model=None, voice=voice, language=None),
            **kwargs,
        )
        self._voice = load_voice(voice)

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        await self.start_tts_usage_metrics(text)
        for phrase in split_phrases(text):
            audio = await asyncio.to_thread(self._voice.synthesize, phrase)
            await self.stop_ttfb_metrics()
            pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
            yield TTSAudioRawFrame(
                audio=pcm.tobytes(),
                sample_rate=VOICE_RATE_HZ,
                num_channels=1,
                context_id=context_id,
            )
