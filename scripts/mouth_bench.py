"""The mouth layer's cost, this tree's against another tree's decoder in one process.

    PYTHONPATH=$PWD python scripts/mouth_bench.py OLD_TREE [--batch 1] [--reps 300]

Times `_mouth_layer` plus the palette matmul and the blend (what _paint_windows does with its
result) at the mouth-window pixels of a real render of the shipped avatar mid-speech, old and
new alternated, one thread, in torch and, exported alone to ONNX, in onnxruntime; prints the
medians and their ratio. OLD_TREE: e.g. `git archive main | tar -x -C out/base`.
"""

# ruff: noqa: E402

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from eval_common import ROOT, tree_decoder

from engine.avatar.prepared import PreparedAvatar
from engine.render.renderer import avatar_tensors
from models import decoder as new_decoder
from models import motion_space as ms


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
    decoders = {"old": tree_decoder(args.old_tree).FaceDecoder(), "new": new_decoder.FaceDecoder()}
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
    palette = rig["palette"][None, :3] * 255.0 + 0.5
    colour = torch.rand(args.batch, pixels.shape[1], 3) * 255.0
    layers = {name: MouthPass(d) for name, d in decoders.items()}
    inputs = (pixels, seams, mouth, seam_fit, colour, palette)
    with torch.no_grad():
        report("torch", alternate({k: (lambda f=f: f(*inputs)) for k, f in layers.items()}, args))
    report("onnxruntime", alternate(onnx_runs(layers, inputs), args))


class MouthPass(torch.nn.Module):
    """What _paint_windows does with the mouth layer: its colours blended over the frame's."""

    def __init__(self, decoder: torch.nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, pixels, seams, mouth, seam_fit, colour, palette):  # type: ignore[no-untyped-def]
        weights, inside = self.decoder._mouth_layer(pixels, seams, mouth, seam_fit)
        return colour * (1.0 - inside)[..., None] + weights @ palette


def onnx_runs(layers, inputs):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    runs = {}
    for name, layer in layers.items():
        graph = io.BytesIO()
        torch.onnx.export(layer, inputs, graph, opset_version=17, dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(graph.getvalue(), options, ["CPUExecutionProvider"])
        feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs, strict=True)}
        runs[name] = lambda s=session, f=feeds: s.run(None, f)
    return runs


def alternate(runs, args):  # type: ignore[no-untyped-def]
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.reps):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return args.batch, {name: statistics.median(t) * 1e3 for name, t in times.items()}


def report(backend: str, result) -> None:  # type: ignore[no-untyped-def]
    batch, ms_ = result
    print(
        f"mouth layer, {backend}, batch {batch}: old {ms_['old']:.3f} ms, "
        f"new {ms_['new']:.3f} ms, new/old {ms_['new'] / ms_['old']:.2f}"
    )


if __name__ == "__main__":
    main()
