"""Stream options checked in one place, and the live start lead they imply."""

from __future__ import annotations

import math

from engine.contract import ALLOWED_FPS, OUTPUT_AUDIO_RATE_HZ, Controls, StreamOptions
from engine.errors import EngineError
from engine.motion.profiles import get_profile
from engine.stream.pipeline import motion_controls
from models import motion_space as ms
from models.motion_data import SAMPLES_PER_MOTION_FRAME

# One finished frame waits per live stream: each waiting frame adds a frame period (25 ms at
# 40 fps) to a real-time source's latency, and a frame takes the worker ~10 ms to decode
# (bench stream: 0 late or repeated frames of 480, bench webrtc: 40.0 fps received).
LIVE_CHANNEL_FRAMES = 1
# Real-time sources deliver audio in chunks: WebRTC (Opus) and most microphone APIs send 20 ms.
SOURCE_CHUNK_S = 0.02
OFFLINE_CHANNEL_FRAMES = 8
GUIDANCE_RANGE = (1.0, 10.0)


def validate_controls(controls: Controls) -> None:
    motion_controls(controls).tensors()  # unknown emotion -> EngineError(bad_control)
    limits = {
        "emotion_intensity": (0.0, 1.0),
        "gaze_x": (-1.0, 1.0),
        "gaze_y": (-1.0, 1.0),
        "head_distance": (ms.field("scale").low, ms.field("scale").high),
        "audio_guidance": GUIDANCE_RANGE,
    }
    for name, (low, high) in limits.items():
        value = getattr(controls, name)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise EngineError(f"control {name}={value} is outside [{low}, {high}]", "bad_control")


def live_start_lead_samples(options: StreamOptions) -> int:
    """How far ahead of the shown frame a live segment's first sample is placed when its audio
    is still arriving: the audio a window needs beyond its first frame (W + L motion frames and
    the encoder's 40 ms), one source chunk (a sample arrives when its chunk is complete), plus
    the frames buffered in the channel and one of compute."""
    profile = get_profile(options.profile)
    motion_frames = profile.window_frames + profile.lookahead_frames + 1
    frame_samples = OUTPUT_AUDIO_RATE_HZ // options.fps
    chunk_samples = int(SOURCE_CHUNK_S * OUTPUT_AUDIO_RATE_HZ)
    return (
        motion_frames * SAMPLES_PER_MOTION_FRAME
        + chunk_samples
        + (LIVE_CHANNEL_FRAMES + 1) * frame_samples
    )


def validate_options(options: StreamOptions) -> None:
    if options.fps not in ALLOWED_FPS:
        raise EngineError(f"fps must be one of {ALLOWED_FPS}, got {options.fps}", "bad_fps")
    get_profile(options.profile)
    validate_controls(options.controls)
