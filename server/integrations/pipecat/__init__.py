"""Pipecat integration: `GiocondaVideoService` (the avatar, after TTS) and `GiocondaTTSService`
(the built-in voice)."""

from server.integrations.pipecat.tts import GiocondaTTSService
from server.integrations.pipecat.video import GiocondaVideoService

__all__ = ["GiocondaTTSService", "GiocondaVideoService"]
