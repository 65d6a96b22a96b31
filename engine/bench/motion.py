"""`gioconda bench motion`: the cost of streaming motion generation on this machine.

Streams synthetic speech-like audio through the audio feature stream and the sliding-window
sampler the way a session's pipeline does (engine/stream/pipeline.py: audio is placed when the
next window needs it, then engine/motion/batch.sample_windows samples the window with the
denoiser the stream engine picks for the backend: `auto` on a CPU is onnxruntime), and reports
CPU time per window (encoder, sampler) and the cost as a fraction of one core at 25 motion
frames/s (target for S + low-latency: <= 0.20). `--chunk-ms 20 --backend torch-cpu` is what
round 1 measured: one encoder call per 20 ms chunk and the torch denoiser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.motion.profiles import MotionProfile, get_profile

if TYPE_CHECKING:
    from models.motion_checkpoint import MotionModel

# torch and the model are imported in the functions that run, so that registering the command
# (add_arguments) stays cheap.

AUDIO_RATE_HZ = 16_000
MOTION_RATE_HZ = 25
TARGET_CORE_FRACTION = 0.20


@dataclass(frozen=True)
class MotionBenchResult:
    profile: MotionProfile
    weights: str
    denoiser: str  # what sampled the windows
    feed: str  # how audio reached the feature stream
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
            f"denoiser: {self.denoiser}; audio fed {self.feed}",
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
    model: MotionModel,
    profile: MotionProfile,
    seconds: float,
    weights: str,
    backend: str = "auto",
    chunk_ms: int = 0,
) -> MotionBenchResult:
    """chunk_ms 0: audio placed per window as the session pipeline does; > 0: fixed chunks."""
    import torch

    from engine.backends.base import BackendConfig, BackendName
    from engine.backends.motion import sampling_denoiser
    from engine.motion.batch import WindowedMotionStream, sample_windows
    from engine.motion.features import AudioFeatureStream
    from models.audio_features import HOP_SAMPLES

    torch.set_num_threads(1)
    denoiser = sampling_denoiser(model, BackendConfig(backend=BackendName(backend)))
    audio = bench_audio(seconds)
    features = AudioFeatureStream(model.log_mel, model.encoder)
    stream = WindowedMotionStream(model, profile, seed=0)
    lookahead = model.encoder.config.lookahead_frames * HOP_SAMPLES
    fixed = AUDIO_RATE_HZ * chunk_ms // 1000
    encoder_cpu_s = sampler_cpu_s = 0.0
    fed = 0
    wall_start = time.perf_counter()
    while fed < len(audio):
        t0 = time.thread_time()
        while fed < len(audio) and (fixed > 0 or not stream.window_ready()):
            wanted = stream.features_needed() * HOP_SAMPLES + lookahead - fed
            size = fixed if fixed > 0 else max(HOP_SAMPLES, wanted)
            stream.add_features(features.push(audio[fed : fed + size]))
            fed += size
            if fixed > 0:
                break
        t1 = time.thread_time()
        while stream.window_ready():
            sample_windows([stream.window_request()], denoiser)
        t2 = time.thread_time()
        encoder_cpu_s += t1 - t0
        sampler_cpu_s += t2 - t1
    wall_s = time.perf_counter() - wall_start
    windows = max(1, stream.frames_emitted // profile.window_frames)
    audio_s = len(audio) / AUDIO_RATE_HZ
    return MotionBenchResult(
        profile=profile,
        weights=weights,
        denoiser=(
            "torch-cpu (the model's own DiT)"
            if denoiser is None
            else f"exported graph on {getattr(getattr(denoiser, 'backend', None), 'name', backend)}"
        ),
        feed=f"in {chunk_ms} ms chunks" if fixed > 0 else "per window, as a session's pipeline",
        audio_s=audio_s,
        windows=windows,
        encoder_ms_per_window=1000.0 * encoder_cpu_s / windows,
        sampler_ms_per_window=1000.0 * sampler_cpu_s / windows,
        core_fraction=(encoder_cpu_s + sampler_cpu_s) / audio_s,
        wall_fraction=wall_s / audio_s,
    )


@dataclass(frozen=True)
class MotionBenchOptions:
    """What `gioconda bench motion` measures (server/commands/bench.py parses it)."""

    profile: str = "low-latency"
    seconds: float = 20.0  # audio to stream
    weights: Path | None = None  # motion checkpoint; None: the shipped one
    backend: str = "auto"  # the motion denoiser's backend, as the stream engine picks it
    chunk_ms: int = 0  # 0: audio placed per window (a session); > 0: pushed in fixed chunks


def run(args: MotionBenchOptions) -> int:
    from engine.motion.clip import model_for_timing

    model, weights = model_for_timing(args.weights)
    result = bench_motion(
        model, get_profile(args.profile), args.seconds, weights, args.backend, args.chunk_ms
    )
    print("\n".join(result.lines()))
    return 0
