"""`gioconda bench decoder`: decoder frames per second at 512x512 on this machine.

Renders a sweep of motion (mouth, blinks, gaze, head turns) with the torch decoder and with its
ONNX export in onnxruntime, one compute thread each, and prints ms per frame and frames per
second per batch size. Target on the 1-core CI machine: >= 100 fps (<= 10 ms per frame).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from engine.avatar.prepared import PreparedAvatar
from engine.avatar.source import load_avatar
from engine.render.onnx_decoder import OnnxDecoder
from engine.render.renderer import AvatarRenderer
from models import motion_space as ms

TARGET_FPS = 100.0


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
) -> float:
    render(motion[:batch])  # warm-up
    start = time.perf_counter()
    done = 0
    for i in range(0, len(motion) - batch + 1, batch):
        render(motion[i : i + batch])
        done += batch
    return (time.perf_counter() - start) * 1000.0 / done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image",
        nargs="?",
        type=Path,
        default=None,
        help="portrait or .avatar.npz (default: the built-in portrait)",
    )
    parser.add_argument("--frames", type=int, default=120, help="frames per measurement")
    parser.add_argument(
        "--batch",
        type=int,
        action="append",
        default=None,
        help="batch size(s) to measure (default: 1 and 8)",
    )
    parser.add_argument("--threads", type=int, default=1, help="compute threads (default 1)")


def run(args: argparse.Namespace) -> int:
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
            f"load average {os.getloadavg()[0]:.2f}, target >= {TARGET_FPS:.0f} fps"
        )
        print(f"{'backend':<14}{'batch':>6}{'ms/frame':>10}{'fps':>8}")
        for batch in args.batch or [1, 8]:
            for name, renderer in (
                ("torch", torch_renderer.render),
                ("onnxruntime", onnx_renderer.render),
            ):
                ms_per_frame = time_per_frame_ms(renderer, motion, batch)
                print(f"{name:<14}{batch:>6}{ms_per_frame:>10.2f}{1000.0 / ms_per_frame:>8.1f}")
    return 0
