"""Gioconda inside agent frameworks: Pipecat (pipecat/) and LiveKit Agents (livekit/)."""
