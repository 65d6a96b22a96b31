"""Training shards for the motion model: the format shared by `gioconda data ...` and training.

A shard is one `.npz` file holding one clip:
- `audio_16k`: int16 (S,) mono speech at 16 kHz.
- `motion`: float32 (T, MOTION_DIM) motion frames at MOTION_RATE_HZ, T = ceil(S / 640);
  frame t covers audio samples [640 t, 640 (t + 1)).
- `emotion`: int64 () index into motion_space.EMOTIONS; `emotion_intensity`: float32 () in [0, 1].
- `meta`: str, JSON with at least {"source": "synth" | "video", "motion_space_version": int}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models import motion_space

AUDIO_RATE_HZ = 16_000
SAMPLES_PER_MOTION_FRAME = AUDIO_RATE_HZ // motion_space.MOTION_RATE_HZ  # 640


class ShardError(ValueError):
    """A shard that is malformed or from another motion-space version."""


@dataclass
class Shard:
    audio_16k: np.ndarray  # (S,) int16
    motion: np.ndarray  # (T, MOTION_DIM) float32
    emotion: int = 0
    emotion_intensity: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        expected_frames = -(-len(self.audio_16k) // SAMPLES_PER_MOTION_FRAME)
        if self.audio_16k.dtype != np.int16 or self.audio_16k.ndim != 1:
            raise ShardError("audio_16k must be a 1-D int16 array")
        if self.motion.shape != (expected_frames, motion_space.MOTION_DIM):
            raise ShardError(
                f"motion has shape {self.motion.shape}, expected "
                f"({expected_frames}, {motion_space.MOTION_DIM})"
            )
        if not 0 <= self.emotion < len(motion_space.EMOTIONS):
            raise ShardError(f"emotion index {self.emotion} out of range")


def save_shard(path: Path, shard: Shard) -> None:
    shard.validate()
    meta = dict(shard.meta, motion_space_version=motion_space.MOTION_SPACE_VERSION)
    np.savez_compressed(
        path,
        audio_16k=shard.audio_16k,
        motion=shard.motion.astype(np.float32),
        emotion=np.int64(shard.emotion),
        emotion_intensity=np.float32(shard.emotion_intensity),
        meta=json.dumps(meta),
    )


def load_shard(path: Path) -> Shard:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        version = meta.get("motion_space_version")
        if version != motion_space.MOTION_SPACE_VERSION:
            raise ShardError(
                f"{path}: motion space version {version}, this build uses "
                f"{motion_space.MOTION_SPACE_VERSION}"
            )
        shard = Shard(
            audio_16k=data["audio_16k"],
            motion=data["motion"],
            emotion=int(data["emotion"]),
            emotion_intensity=float(data["emotion_intensity"]),
            meta=meta,
        )
    shard.validate()
    return shard


def list_shards(*dirs: Path) -> list[Path]:
    paths = sorted(p for d in dirs for p in Path(d).rglob("*.npz"))
    if not paths:
        raise ShardError(f"no .npz shards under {', '.join(str(d) for d in dirs)}")
    return paths
