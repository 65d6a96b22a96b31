"""The engine's few exception types. The server translates them to HTTP errors in one place."""

from __future__ import annotations


class EngineError(Exception):
    """Base class: a request the engine refuses, with a stable machine-readable reason."""

    reason = "engine_error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class AvatarError(EngineError):
    """A portrait that cannot be prepared.

    reason is one of: no_face, several_faces, face_too_small, unsupported_format, corrupt_file,
    too_many_pixels, too_many_bytes, bad_avatar_file.
    """

    reason = "bad_avatar"


class AudioError(EngineError):
    """Audio the engine cannot take (NaN/inf, wrong dtype, unsupported rate, chunk too long)."""

    reason = "bad_audio"
