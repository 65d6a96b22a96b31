"""`gioconda bench decoder`: decoder frames per second at 512x512 on this machine.

Renders a sweep of motion (mouth, blinks, gaze, head turns) with the torch decoder and with its
ONNX export in onnxruntime, one compute thread each, and prints ms per frame and frames per
second per batch size: wall-clock, and this thread's CPU time (with one compute thread torch and
onnxruntime work in the calling thread), which a shared machine's waiting for a core does not
inflate, so old and new decoders compare in it even when the machine is busy. Budget: 12 ms of
a core per 512x512 frame (issue 12), i.e. >= 83 fps.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from engine.avatar.prepared import PreparedAvatar
from engine.avatar.source import load_avatar
from engine.render.onnx_decoder import OnnxDecoder
from engine.render.renderer import AvatarRenderer
from models import motion_space as ms

BUDGET_MS = 12.0


def motion_sweep(avatar: PreparedAvatar, frames: int) -> NDArray[np.float32]:
    """(frames, D) motion that exercises the mouth, eyes and head like speech does."""
    t = np.arange(frames, dtype=np.float32) / 40.0
    motion = np.repeat(avatar.source_motion[None], frames, axis=0)
    motion[:, ms.INDEX["jawOpen"]] = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    motion[:, ms.INDEX["eyeBlinkLeft"]] = motion[:, ms.INDEX["eyeBlinkRight"]] = (t % 3.0) < 0.15
    motion[:, ms.INDEX["eyeLookX"]] = 0.5 * np.sin(2 * np.pi * 0.3 * t)
    motion[:, ms.INDEX["yaw"]] += 0.2 * np.sin(2 * np.pi * 0.5 * t)
    motion[:, ms.INDEX["pitch"]] += 0.1 * np.sin(2 * np.pi * 0.7 * t)
    return ms.clip(motion)


def time_per_frame_ms(
    render: Callable[[NDArray[np.float32]], object], motion: NDArray[np.float32], batch: int
) -> tuple[float, float]:
    """(wall-clock, this thread's CPU time) ms per frame over `motion` in batches."""
    render(motion[:batch])  # warm-up
    start, start_cpu = time.perf_counter(), time.thread_time()
    done = 0
    for i in range(0, len(motion) - batch + 1, batch):
        render(motion[i : i + batch])
        done += batch
    wall_s, cpu_s = time.perf_counter() - start, time.thread_time() - start_cpu
    return wall_s * 1000.0 / done, cpu_s * 1000.0 / done


@dataclass(frozen=True)
class DecoderBenchOptions:
    """What `gioconda bench decoder` measures (server/commands/bench.py parses it)."""

    image: Path | None = None  # portrait or .avatar.npz; None: the built-in portrait
    frames: int = 120  # frames per measurement
    batch: list[int] | None = None  # batch sizes; None: 1 and 8
    threads: int = 1


def run(args: DecoderBenchOptions) -> int:
    torch.set_num_threads(args.threads)
    avatar = load_avatar(args.image)
    motion = motion_sweep(avatar, args.frames)
    torch_renderer = AvatarRenderer(avatar)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_renderer = OnnxDecoder.export_for(
            avatar, Path(tmp) / "decoder.onnx", threads=args.threads
        )
        print(
            f"decoder benchmark: 512x512, {args.threads} thread(s), {args.frames} frames, "
            f"load average {os.getloadavg()[0]:.2f}, budget {BUDGET_MS:.0f} ms of CPU per frame"
        )
        print(f"{'backend':<14}{'batch':>6}{'ms/frame':>10}{'cpu ms':>8}{'fps':>8}")
        for batch in args.batch or [1, 8]:
            for name, renderer in (
                ("torch", torch_renderer.render),
                ("onnxruntime", onnx_renderer.render),
            ):
                wall_ms, cpu_ms = time_per_frame_ms(renderer, motion, batch)
                print(f"{name:<14}{batch:>6}{wall_ms:>10.2f}{cpu_ms:>8.2f}{1000.0 / wall_ms:>8.1f}")
    return 0
