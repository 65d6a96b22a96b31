"""`gioconda bench motion`: the cost of streaming motion generation on this machine.

Streams synthetic speech-like audio in 20 ms chunks through the audio feature stream and the
sliding-window sampler, as a session does, and reports CPU time per window (encoder, sampler) and
the cost as a fraction of one core at 25 motion frames/s (target for S + low-latency: <= 0.20).
The lead wires `add_arguments` / `run` into server/commands/bench.py.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.motion.profiles import PROFILES, MotionProfile, get_profile

if TYPE_CHECKING:
    from models.motion_checkpoint import MotionModel

# torch and the model are imported in the functions that run, so that registering the command
# (add_arguments) stays cheap.

CHUNK_MS = 20
AUDIO_RATE_HZ = 16_000
MOTION_RATE_HZ = 25
TARGET_CORE_FRACTION = 0.20


@dataclass(frozen=True)
class MotionBenchResult:
    profile: MotionProfile
    weights: str
    audio_s: float
    windows: int
    encoder_ms_per_window: float
    sampler_ms_per_window: float
    core_fraction: float  # CPU seconds per second of audio, one thread
    wall_fraction: float  # wall seconds per second of audio (includes contention)

    def lines(self) -> list[str]:
        p = self.profile
        verdict = "ok" if self.core_fraction <= TARGET_CORE_FRACTION else "OVER TARGET"
        return [
            f"motion model: {self.weights}",
            f"profile {p.name}: W={p.window_frames} P={p.context_frames} L={p.lookahead_frames} "
            f"steps={p.sampling_steps} guidance={p.guidance_scale} "
            f"(algorithmic latency {p.algorithmic_latency_ms} ms)",
            f"{self.windows} windows over {self.audio_s:.1f} s of audio",
            f"per window: encoder {self.encoder_ms_per_window:.2f} ms, "
            f"sampler {self.sampler_ms_per_window:.2f} ms (CPU time)",
            f"cost at {MOTION_RATE_HZ} motion frames/s: {self.core_fraction:.3f} of one core "
            f"(wall {self.wall_fraction:.3f}; target <= {TARGET_CORE_FRACTION}) {verdict}",
        ]


def bench_audio(seconds: float, seed: int = 0) -> npt.NDArray[np.float32]:
    """Syllable-like bursts: a voiced carrier under a random on/off envelope."""
    rng = np.random.default_rng(seed)
    n_samples = int(seconds * AUDIO_RATE_HZ)
    envelope = np.repeat(rng.random(n_samples // 3200 + 1) > 0.4, 3200)[:n_samples]
    carrier = np.sin(2 * np.pi * 140 * np.arange(n_samples) / AUDIO_RATE_HZ)
    audio: npt.NDArray[np.float32] = (
        0.3 * envelope * (carrier + 0.2 * rng.standard_normal(n_samples))
    ).astype(np.float32)
    return audio


def bench_motion(
    model: MotionModel, profile: MotionProfile, seconds: float, weights: str
) -> MotionBenchResult:
    import torch

    from engine.motion.features import AudioFeatureStream
    from engine.motion.sampler import MotionStream

    torch.set_num_threads(1)
    audio = bench_audio(seconds)
    features = AudioFeatureStream(model.log_mel, model.encoder)
    sampler = MotionStream(model, profile, seed=0)
    chunk = AUDIO_RATE_HZ * CHUNK_MS // 1000
    encoder_cpu_s = sampler_cpu_s = 0.0
    wall_start = time.perf_counter()
    for start in range(0, len(audio), chunk):
        t0 = time.thread_time()
        new_features = features.push(audio[start : start + chunk])
        t1 = time.thread_time()
        sampler.push_features(new_features)
        t2 = time.thread_time()
        encoder_cpu_s += t1 - t0
        sampler_cpu_s += t2 - t1
    wall_s = time.perf_counter() - wall_start
    windows = max(1, sampler.frames_emitted // profile.window_frames)
    audio_s = len(audio) / AUDIO_RATE_HZ
    return MotionBenchResult(
        profile=profile,
        weights=weights,
        audio_s=audio_s,
        windows=windows,
        encoder_ms_per_window=1000.0 * encoder_cpu_s / windows,
        sampler_ms_per_window=1000.0 * sampler_cpu_s / windows,
        core_fraction=(encoder_cpu_s + sampler_cpu_s) / audio_s,
        wall_fraction=wall_s / audio_s,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=sorted(PROFILES), default="low-latency")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio to stream")
    parser.add_argument("--weights", type=Path, default=None, help="motion checkpoint")


def run(args: argparse.Namespace) -> int:
    from engine.motion.clip import model_for_timing

    model, weights = model_for_timing(args.weights)
    result = bench_motion(model, get_profile(args.profile), args.seconds, weights)
    print("\n".join(result.lines()))
    return 0
