"""The engine <-> server contract for one live session (DESIGN.md, "Data flow").

Small frozen types cross the boundary; the server never touches torch or the models. The engine's
implementation is `engine.stream.engine.AvatarStream` (which satisfies `SessionStream`); the server's
WebRTC tracks, agent speech websocket and offline tools use only what is declared here.

Clocks: every output frame carries one interval of the session's media timeline. Video pts count
in VIDEO_CLOCK_HZ ticks (the RTP video clock); audio pts count samples at OUTPUT_AUDIO_RATE_HZ.
Frame k of a session at `fps` starts at k / fps seconds on both tracks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

VIDEO_CLOCK_HZ = 90_000
OUTPUT_AUDIO_RATE_HZ = 16_000  # mono int16; the WebRTC layer resamples for Opus
ALLOWED_FPS = (25, 30, 40, 50)
DEFAULT_FPS = 40


@dataclass(frozen=True)
class Controls:
    """Live controls of a session; the engine validates them (EngineError reason bad_control)."""

    emotion: str = "neutral"  # one of models.motion_space.EMOTIONS
    emotion_intensity: float = 0.0  # 0..1
    gaze_x: float = 0.0  # -1..1, +x looks towards image right
    gaze_y: float = 0.0  # -1..1, +y looks down
    head_distance: float = 0.0  # log scale offset, + brings the head closer
    audio_guidance: float | None = None  # classifier-free guidance scale; None: the profile's


@dataclass(frozen=True)
class OutputFrame:
    """One 1/fps interval of the session: the picture and exactly the audio it shows."""

    index: int  # frame number since the session started
    video: NDArray[np.uint8]  # (512, 512, 3) RGB
    video_pts: int  # in 1 / VIDEO_CLOCK_HZ
    audio: NDArray[np.int16]  # (OUTPUT_AUDIO_RATE_HZ / fps,) mono: speech or silence
    audio_pts: int  # in 1 / OUTPUT_AUDIO_RATE_HZ
    speaking: bool  # True while this frame's audio belongs to a segment
    # Wall-clock time (time.monotonic) at which the oldest input audio shown in this frame
    # entered the stream; None for idle frames. Latency = departure time - this.
    audio_arrival_s: float | None = None


@dataclass(frozen=True)
class SegmentEvent:
    """A speech segment started playing, or finished (played out, or cut by clear())."""

    kind: Literal["started", "finished"]
    segment_id: int
    position_s: float  # seconds of the segment's audio played when the event happened
    interrupted: bool = False


@dataclass(frozen=True)
class StreamOptions:
    avatar_id: str = "default"
    profile: str = "low-latency"  # engine.motion.profiles: low-latency | balanced | quality
    fps: int = DEFAULT_FPS
    seed: int = 0
    controls: Controls = field(default_factory=Controls)


class SessionStream(Protocol):
    """What the server may do with a live stream. All methods are safe from the event loop:
    push_audio/end_segment/clear/set_controls never block on model work."""

    options: StreamOptions

    def push_audio(
        self, samples: NDArray[np.generic], sample_rate_hz: int, channels: int = 1
    ) -> None:
        """Queue speech (int16 or float32 in [-1, 1], interleaved if channels > 1).

        Opens a segment if none is open. Raises engine.errors.AudioError for NaN/inf, a wrong
        dtype, an unsupported rate or a chunk longer than the stated cap; the stream survives."""

    def end_segment(self) -> None:
        """The open segment has no more audio; it finishes when its audio has played."""

    def clear(self) -> None:
        """Interruption: drop queued audio, finish the segment as interrupted, go idle within
        one motion window."""

    def set_controls(self, controls: Controls) -> None: ...

    def frames(self) -> AsyncIterator[OutputFrame]:
        """Frames in order with no gaps, idle (closed mouth, blinks, small head motion) when no
        speech is queued. A live consumer pulls at its own pace (the media clock)."""

    def events(self) -> AsyncIterator[SegmentEvent]: ...

    async def close(self) -> None:
        """Idempotent; ends frames() and events()."""
