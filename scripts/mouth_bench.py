"""The mouth layer's cost, this tree's against another tree's decoder in one process.

    PYTHONPATH=$PWD python scripts/mouth_bench.py OLD_TREE [--batch 1] [--reps 300]

Times `_mouth_layer` plus the palette matmul and the blend (what _paint_windows does with its
result) at the mouth-window pixels of a real render of the shipped avatar mid-speech, old and
new alternated, one thread; prints the medians and their ratio.
"""

# ruff: noqa: E402

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from engine.avatar.prepared import PreparedAvatar
from engine.render.renderer import avatar_tensors
from models import decoder as new_decoder
from models import motion_space as ms

ROOT = Path(__file__).resolve().parent.parent


def load_old(tree: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("old_decoder", tree / "models" / "decoder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_decoder"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old_tree", type=Path)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reps", type=int, default=300)
    args = parser.parse_args()
    avatar = PreparedAvatar.load(ROOT / "engine" / "assets" / "astronaut.avatar.npz")
    rig = avatar_tensors(avatar)
    motion = np.repeat(ms.with_fields(avatar.source_motion, jawOpen=0.5)[None], args.batch, 0)
    captured = {}
    decoders = {"old": load_old(args.old_tree).FaceDecoder(), "new": new_decoder.FaceDecoder()}
    new = decoders["new"]
    original = new._mouth_layer

    def capture(*a):  # type: ignore[no-untyped-def]
        captured["args"] = a
        return original(*a)

    new._mouth_layer = capture
    with torch.no_grad():
        new(torch.from_numpy(motion), *[rig[k] for k in new_decoder.AVATAR_INPUTS])
    new._mouth_layer = original
    pixels, seams, mouth, seam_fit = captured["args"]
    palette = rig["palette"][None] * 255.0 + 0.5
    colour = torch.rand(args.batch, pixels.shape[1], 3) * 255.0
    times: dict[str, list[float]] = {"old": [], "new": []}
    with torch.no_grad():
        for _ in range(args.reps):
            for name, d in decoders.items():
                start = time.perf_counter()
                weights, inside = d._mouth_layer(pixels, seams, mouth, seam_fit)
                _ = colour * (1.0 - inside)[..., None] + weights @ palette[:, :3]
                times[name].append(time.perf_counter() - start)
    old, new_ms = (statistics.median(times[k]) * 1e3 for k in ("old", "new"))
    print(
        f"mouth layer, batch {args.batch}: old {old:.3f} ms, new {new_ms:.3f} ms, "
        f"new/old {new_ms / old:.2f}"
    )


if __name__ == "__main__":
    main()
