"""Transports that carry a session's frames and audio out; pacing and the AI label are shared."""
