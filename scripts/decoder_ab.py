"""Decoder A/B timing in one process (issue 12): this tree's FaceDecoder against the one in
another tree (an export of main: `git archive main | tar -x -C /tmp/main_tree`), same avatar,
same motion sweep, alternating old/new rounds so a shared machine's load hits both alike.

    PYTHONPATH=$PWD python scripts/decoder_ab.py /tmp/main_tree [PORTRAIT] [ROUNDS]

Prints the median ms per frame (batch 1, one thread; old and new alternate frame by frame) of
each, the new/old ratio, and the same with the eye layer timed alone (its _eye_layer call, the
windows' gather and scatter excluded), then both exported to ONNX and run in onnxruntime.
"""

# ruff: noqa: E402  (one compute thread before the engine imports)

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from eval_common import tree_decoder

from engine.avatar.source import load_avatar
from engine.bench.decoder import motion_sweep
from engine.render.onnx_decoder import OnnxDecoder
from engine.render.renderer import avatar_tensors
from models.decoder import DecoderConfig, FaceDecoder
from models.export_decoder import export_decoder

OLD_TREE = Path(sys.argv[1])
IMAGE = Path(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 7

old_module = tree_decoder(OLD_TREE)

avatar = load_avatar(IMAGE)
tensors = avatar_tensors(avatar)
motion = torch.from_numpy(motion_sweep(avatar, 80))
grid = int(avatar.rig["grid_size"])
decoders = {
    "old": old_module.FaceDecoder(old_module.DecoderConfig(grid_size=grid)).eval(),
    "new": FaceDecoder(DecoderConfig(grid_size=grid)).eval(),
}
eye_seconds = {"old": 0.0, "new": 0.0}


def timed_eye_layer(name, decoder):
    inner = decoder._eye_layer

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        out = inner(*args, **kwargs)
        eye_seconds[name] += time.perf_counter() - start
        return out

    decoder._eye_layer = wrapper


for name, decoder in decoders.items():
    timed_eye_layer(name, decoder)
totals = {"old": [], "new": []}
eyes = {"old": [], "new": []}
with torch.inference_mode():
    for decoder in decoders.values():
        decoder(motion[:1], *tensors.values())  # warm-up
    # Old and new alternate frame by frame: a shared machine's load swings within seconds, and
    # medians of per-frame times ride over the swings alike.
    for _ in range(ROUNDS):
        for i in range(len(motion)):
            for name, decoder in decoders.items():
                eye_seconds[name] = 0.0
                start = time.perf_counter()
                decoder(motion[i : i + 1], *tensors.values())
                totals[name].append((time.perf_counter() - start) * 1000)
                eyes[name].append(eye_seconds[name] * 1000)
old, new = np.median(totals["old"]), np.median(totals["new"])
old_eye, new_eye = np.median(eyes["old"]), np.median(eyes["new"])
print(f"decoder ms/frame  old {old:.2f}  new {new:.2f}  new/old {new / old:.3f}")
print(f"eye layer ms/frame old {old_eye:.2f}  new {new_eye:.2f}  new/old {new_eye / old_eye:.3f}")

# The same in onnxruntime: both decoders exported (gather sampler), alternating frame by frame.
with tempfile.TemporaryDirectory() as tmp:
    onnx = {}
    for name, module in (("old", old_module), ("new", sys.modules["models.decoder"])):
        exported = module.FaceDecoder(module.DecoderConfig(grid_size=grid, sampler="gather"))
        export_decoder(exported, tensors, Path(tmp) / f"{name}.onnx")
        onnx[name] = OnnxDecoder(Path(tmp) / f"{name}.onnx", avatar)
    frames = motion.numpy()
    times = {"old": [], "new": []}
    for _ in range(ROUNDS):
        for i in range(len(frames)):
            for name, renderer in onnx.items():
                start = time.perf_counter()
                renderer.render(frames[i : i + 1])
                times[name].append((time.perf_counter() - start) * 1000)
    old, new = np.median(times["old"]), np.median(times["new"])
    print(f"onnxruntime ms/frame old {old:.2f}  new {new:.2f}  new/old {new / old:.3f}")
