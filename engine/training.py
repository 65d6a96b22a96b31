"""Data and training entry points for the CLI: the server layer reaches models only through here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from engine.errors import EngineError
from models.motion_checkpoint import CheckpointError
from models.synth.corpus import synthesize_corpus
from models.train_motion import TrainConfig, TrainState
from models.train_motion import train as _train

__all__ = ["TrainConfig", "set_compute_threads", "synthesize_corpus", "train"]


def train(
    data_dirs: list[Path],
    out_dir: Path,
    config: TrainConfig,
    val_dirs: list[Path] | None = None,
    resume: bool = False,
    on_best: Callable[[Path], None] | None = None,
    init: Path | None = None,
) -> TrainState:
    """models.train_motion.train; a missing or unusable --init checkpoint is an EngineError."""
    if init is not None and not init.is_file():
        raise EngineError(f"checkpoint to fine-tune from not found: {init}", "missing_weights")
    try:
        return _train(data_dirs, out_dir, config, val_dirs, resume, on_best, init)
    except CheckpointError as exc:
        raise EngineError(str(exc), reason="bad_weights") from exc


def set_compute_threads(threads: int) -> None:
    """Compute threads for training (one by default: two spinning threads were 2x slower here)."""
    torch.set_num_threads(threads)
