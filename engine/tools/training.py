"""Data and training entry points for the CLI: the server layer reaches models only through here."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.errors import EngineError
from engine.motion.clip import load_checkpoint
from models.synth.corpus import synthesize_corpus
from models.train_motion import TrainConfig, train

__all__ = [
    "TrainConfig",
    "check_fine_tune_source",
    "set_compute_threads",
    "synthesize_corpus",
    "train",
]


def check_fine_tune_source(path: Path, preset: str) -> None:
    """A missing or foreign --init checkpoint, or one of another preset, is an EngineError,
    before any data is loaded."""
    _, meta = load_checkpoint(path)
    if meta["preset"] != preset:
        raise EngineError(
            f"{path} is preset {meta['preset']}, not {preset}: cannot fine-tune", "bad_weights"
        )


def set_compute_threads(threads: int) -> None:
    """Compute threads for training (one by default: two spinning threads were 2x slower here)."""
    torch.set_num_threads(threads)
