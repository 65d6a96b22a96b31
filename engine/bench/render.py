"""`gioconda bench render --backend NAME`: per-stage cost of rendering on one backend.

Stages, each on the named backend (no fallback): the audio encoder for one window's features, one
sliding-window sampler call (the profile's steps, classifier-free guidance batched), and the
decoder per frame at each batch size (default 1 and 8): one avatar's frames, and on the torch
backends also a stacked call with a different avatar per frame (how the scheduler batches the
frames of many sessions on a GPU). From them: the implied maximum number of concurrent 40 fps
sessions on this device, i.e. 1 s divided by the compute one session needs per second
((25 / W) windows x (encoder + sampler) + 40 frames x decoder).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.backends.base import BackendConfig, BackendName, Precision
from engine.motion.profiles import PROFILES, MotionProfile, get_profile
from server.commands.arg_types import positive_ints

if TYPE_CHECKING:
    from models.diffusion import WindowCondition
    from models.motion_checkpoint import MotionModel

# torch and the models are imported in the functions that run, so that registering the command
# (add_arguments) stays cheap.

VIDEO_FPS = 40
MOTION_RATE_HZ = 25
DECODER_BATCHES = (1, 8)


@dataclass(frozen=True)
class RenderBenchResult:
    backend: str
    profile: MotionProfile
    encoder_ms: float  # one window's audio features
    sampler_ms: float  # one window
    decoder_ms_per_frame: dict[int, float]  # batch -> ms per frame, one avatar
    stacked_ms_per_frame: dict[int, float]  # batch -> ms per frame, one avatar per frame
    precision_note: str = ""
    # The named backend's decoder frames against torch-cpu's (fp32 reference), 0..255 levels.
    frame_mean_abs_diff: float = 0.0
    frame_max_abs_diff: int = 0

    def max_sessions(self, decoder_ms: float) -> float:
        windows_per_s = MOTION_RATE_HZ / self.profile.window_frames
        per_session_ms = windows_per_s * (self.encoder_ms + self.sampler_ms)
        per_session_ms += VIDEO_FPS * decoder_ms
        return 1000.0 / per_session_ms

    def lines(self) -> list[str]:
        p = self.profile
        out = [
            f"backend {self.backend}; profile {p.name} (W={p.window_frames} "
            f"P={p.context_frames} L={p.lookahead_frames} steps={p.sampling_steps} "
            f"guidance={p.guidance_scale})",
            f"audio encoder, one window ({2 * p.window_frames} features): "
            f"{self.encoder_ms:8.2f} ms",
            f"sampler, one window:                     {self.sampler_ms:8.2f} ms",
        ]
        if self.precision_note:
            out.insert(1, self.precision_note)
        rows = [("", self.decoder_ms_per_frame), (" stacked", self.stacked_ms_per_frame)]
        for label, table in rows:
            for batch, value in table.items():
                what = f"decoder per frame at batch {batch}{label}:"
                out.append(f"{what:40} {value:8.2f} ms ({1000.0 / value:7.1f} frames/s)")
        for label, table in rows:
            for batch, value in table.items():
                out.append(
                    f"max {VIDEO_FPS} fps sessions (decoder batch {batch}{label}): "
                    f"{self.max_sessions(value):.2f}"
                )
        out.append(
            f"decoder frames against torch-cpu: mean |diff| {self.frame_mean_abs_diff:.3f}, "
            f"max {self.frame_max_abs_diff} (of 255)"
        )
        return out


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up (allocations, lazy initialisation, engine autotuning)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def _window_condition(model: MotionModel, profile: MotionProfile) -> WindowCondition:
    import torch

    from engine.motion.sampler import MotionControls
    from models import motion_space as ms
    from models.diffusion import WindowCondition
    from models.motion_dit import window_positions

    p = profile
    tokens = p.context_frames + p.window_frames + p.lookahead_frames
    known = torch.zeros(1, tokens, 1)  # (1, N, 1)
    known[0, : p.context_frames] = 1.0
    controls, keep = MotionControls().tensors()
    generator = torch.Generator().manual_seed(0)
    return WindowCondition(
        context_motion=torch.randn(1, tokens, ms.MOTION_DIM, generator=generator),  # (1, N, M)
        known=known,
        audio_features=torch.randn(  # (1, 2N, A)
            1, 2 * tokens, model.encoder.config.out_dim, generator=generator
        ),
        audio_keep=torch.ones(1, 1),
        controls=controls,
        control_keep=keep,
        positions=window_positions(p.context_frames, tokens)[None],  # (1, N)
    )


def bench_render(
    model: MotionModel,
    profile: MotionProfile,
    config: BackendConfig,
    image: Path | None,
    repeats: int,
    batches: tuple[int, ...] = DECODER_BATCHES,
) -> RenderBenchResult:
    import torch

    from engine.avatar.source import load_avatar
    from engine.backends.motion import BackendDenoiser, open_audio_encoder, open_denoiser
    from engine.bench.decoder import motion_sweep
    from engine.render.renderer import AvatarRenderer, open_decoder_backend, render_stacked
    from models.diffusion import ddim_sample
    from models.export_motion import example_audio

    encoder = open_audio_encoder(model, config, strict=True)
    audio = example_audio(model, 1, 2 * profile.window_frames).numpy()  # (1, samples)
    encoder_ms = _median_ms(lambda: encoder.run({"audio": audio}), repeats)

    denoiser = BackendDenoiser(open_denoiser(model, config, strict=True), model.dit).as_dit()
    cond = _window_condition(model, profile)
    noise = torch.randn(cond.context_motion.shape, generator=torch.Generator().manual_seed(1))

    def window() -> torch.Tensor:
        return ddim_sample(
            denoiser, noise, cond, profile.sampling_steps, profile.guidance_scale, profile.eta
        )

    sampler_ms = _median_ms(window, repeats)

    avatar = load_avatar(image)
    decoder = open_decoder_backend(avatar, config, strict=True)
    sweep = motion_sweep(avatar, max(batches))
    decoder_ms: dict[int, float] = {}
    for batch in batches:
        feeds = {"motion": sweep[:batch]}
        call = functools.partial(decoder.run, feeds)
        decoder_ms[batch] = _median_ms(call, max(3, repeats // 4)) / batch

    reference = AvatarRenderer(avatar, backend=BackendConfig(backend=BackendName.TORCH_CPU))
    check = sweep[: min(8, len(sweep))]
    difference = np.abs(
        decoder.run({"motion": check})["frames"].astype(np.int16) - reference.render(check)
    )

    # Stacked: one renderer per frame (the cost is the same whether the avatars differ or not:
    # each frame's avatar tensors are copied into the stack on the device).
    stacked_ms: dict[int, float] = {}
    stacking = dataclasses.replace(config, stack_avatars=True)
    renderers = [AvatarRenderer(avatar, backend=stacking) for _ in range(max(batches))]
    if renderers[0].stack_key is not None:
        for batch in (b for b in batches if b > 1):
            parts = [(renderers[i], sweep[i : i + 1]) for i in range(batch)]
            stacked_call = functools.partial(render_stacked, parts)
            stacked_ms[batch] = _median_ms(stacked_call, max(3, repeats // 4)) / batch
    return RenderBenchResult(
        str(config.backend),
        profile,
        encoder_ms,
        sampler_ms,
        decoder_ms,
        stacked_ms,
        _precision_note(config),
        float(difference.mean()),
        int(difference.max()),
    )


def _precision_note(config: BackendConfig) -> str:
    if config.precision == Precision.FP32:
        return ""
    if config.backend == BackendName.TORCH_CUDA:
        return f"precision {config.precision}: autocast (sampling ops stay fp32)"
    if config.backend == BackendName.TENSORRT:
        return f"precision {config.precision}: TensorRT builder flag"
    return f"precision {config.precision} ignored: {config.backend} runs fp32"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = [str(n) for n in BackendName if n != BackendName.AUTO]
    parser.add_argument("--backend", choices=names, default=str(BackendName.TORCH_CPU))
    parser.add_argument("--profile", choices=sorted(PROFILES), default="low-latency")
    parser.add_argument(
        "--precision", choices=[str(p) for p in Precision], default="fp32", help="GPU backends"
    )
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="folder written by `gioconda export` (default: export into a temporary folder)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="motion checkpoint")
    parser.add_argument("--image", type=Path, default=None, help="portrait or .avatar.npz")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per stage")
    parser.add_argument(
        "--batches",
        type=positive_ints,
        default=DECODER_BATCHES,
        help="decoder batch sizes, comma-separated (default 1,8; on a GPU try 1,8,32,64)",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU compute threads (default 1)")


def run(args: argparse.Namespace) -> int:
    import torch

    from engine.avatar.source import load_avatar

    torch.set_num_threads(args.threads)
    from engine.motion.clip import model_for_timing

    model, weights = model_for_timing(args.weights)
    backend = BackendName(args.backend)
    needs_export = backend in (BackendName.ONNXRUNTIME, BackendName.TENSORRT)
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = args.artifacts
        if needs_export and artifacts is None:
            from engine.tools.export import ExportFormat, ExportRequest, export_graphs

            fmt = ExportFormat.TENSORRT if backend == BackendName.TENSORRT else ExportFormat.ONNX
            artifacts = Path(tmp)
            precision = Precision(args.precision) if fmt == ExportFormat.TENSORRT else None
            request = ExportRequest(
                artifacts, fmt, precision or Precision.FP32, max_batch=max(args.batches)
            )
            export_graphs(request, model, "S", load_avatar(args.image))
        config = BackendConfig(
            backend=backend,
            artifacts_dir=artifacts,
            precision=Precision(args.precision),
            max_batch=max(args.batches),  # TensorRT engines are built for batch 1..this
            threads=args.threads,
        )
        profile = get_profile(args.profile)
        result = bench_render(model, profile, config, args.image, args.repeats, args.batches)
    print(
        f"render benchmark: {platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"{args.threads} thread(s), load average {os.getloadavg()[0]:.2f}, "
        f"cuda {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}"
    )
    print(f"motion model: {weights}")
    print("\n".join(result.lines()))
    return 0
