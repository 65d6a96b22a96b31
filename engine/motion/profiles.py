"""Streaming motion profiles: window geometry and sampling effort, defined in one place.

All counts are 25 Hz motion frames. Algorithmic latency of a profile is W + L motion frames plus
the audio encoder's lookahead (2 frames at 50 Hz = 40 ms) plus compute.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import EngineError

MOTION_FRAME_MS = 40


@dataclass(frozen=True)
class MotionProfile:
    name: str
    window_frames: int  # W: new frames emitted per sampler call
    context_frames: int  # P: previous frames the window is conditioned on
    lookahead_frames: int  # L: future frames whose audio the window sees
    sampling_steps: int
    guidance_scale: float  # classifier-free guidance on audio (1.0 = off, no extra batch)
    eta: float = 0.0  # sampler stochasticity: 0 = deterministic DDIM, 1 = DDPM-like
    # Seeded blinks laid over the model's (0 = model only). Talkers blink about 15-30 times a
    # minute (the tracked HDTF speaker: 30); 18 with the bounded intervals of
    # engine/motion/sampler.py BlinkSchedule keeps any clip of 7.5 s or more inside 8-30.
    blinks_per_min: float = 18.0
    smoothing: float = 0.75  # scale of engine/motion/sampler.py SMOOTHING_SIGMA_FRAMES; 0 = off

    @property
    def algorithmic_latency_ms(self) -> int:
        return (self.window_frames + self.lookahead_frames) * MOTION_FRAME_MS + 40


# A live stream's latency is at least (W + L + 1) motion frames plus the frame channel (see
# engine/stream/options.py): every window boundary falls inside a segment sooner or later, so its
# worst phase sets the lead for all of it. low-latency keeps that under 250 ms (W 2, L 1: 230 ms);
# balanced is the previous default (W 4, L 2: 370 ms), cheaper per frame and with more lookahead.
# low-latency guides on audio at 2.5 (was 1.5; same cost, the guided batch is there either way).
# With weights v3 it cut lj050-0131's longest shut run in speech (a soft voiced stretch at
# 4.9-5.6 s) from 0.32-0.80 s over seeds 0-3 to at most 0.32 s; with v4, which opens that stretch
# by itself, it keeps quiet recordings' hissy pauses closed (ar_quiet: closed in silence 0.713 at
# 2.5, 0.678 at 1.5). balanced gained nothing from it with either weights and keeps 1.5
# (models/weights/MODEL_CARD.md, v4).
PROFILES: dict[str, MotionProfile] = {
    "low-latency": MotionProfile(
        "low-latency",
        window_frames=2,
        context_frames=8,
        lookahead_frames=1,
        sampling_steps=4,
        guidance_scale=2.5,
    ),
    "balanced": MotionProfile(
        "balanced",
        window_frames=4,
        context_frames=8,
        lookahead_frames=2,
        sampling_steps=4,
        guidance_scale=1.5,
    ),
    "quality": MotionProfile(
        "quality",
        window_frames=12,
        context_frames=8,
        lookahead_frames=5,
        sampling_steps=8,
        guidance_scale=2.0,
    ),
}


def get_profile(name: str) -> MotionProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise EngineError(
            f"unknown motion profile {name!r}; known: {', '.join(PROFILES)}", reason="bad_profile"
        ) from None
