"""Data and training entry points for the CLI: the server layer reaches models only through here."""

from __future__ import annotations

import torch

from models.synth.corpus import synthesize_corpus
from models.train_motion import TrainConfig, train

__all__ = ["TrainConfig", "set_compute_threads", "synthesize_corpus", "train"]


def set_compute_threads(threads: int) -> None:
    """Compute threads for training (one by default: two spinning threads were 2x slower here)."""
    torch.set_num_threads(threads)
