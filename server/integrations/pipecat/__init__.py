"""Pipecat integration: `GiocondaVideoService`, the avatar as a frame processor after TTS."""

from server.integrations.pipecat.video import GiocondaVideoService

__all__ = ["GiocondaVideoService"]
