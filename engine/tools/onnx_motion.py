"""Check the exported motion graphs (audio encoder, denoiser) in onnxruntime against torch.

`python -m engine.tools.onnx_motion CHECKPOINT --out DIR` exports and prints the differences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.export_motion import (
    DENOISER_INPUTS,
    AudioFrontend,
    example_audio,
    example_denoiser_inputs,
    export_motion,
)
from models.motion_checkpoint import MotionModel


@torch.no_grad()
def check_parity(
    model: MotionModel, paths: dict[str, Path], batch_size: int = 3
) -> dict[str, float]:
    """Max abs difference onnxruntime vs torch, at shapes other than the export examples."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    errors: dict[str, float] = {}
    audio = example_audio(model, batch_size, frames=17, seed=1)
    session = ort.InferenceSession(str(paths["audio_encoder"]), options, ["CPUExecutionProvider"])
    (onnx_features,) = session.run(None, {"audio": audio.numpy()})
    torch_features = AudioFrontend(model.log_mel, model.encoder)(audio).numpy()
    errors["audio_encoder"] = float(np.abs(onnx_features - torch_features).max())
    inputs = example_denoiser_inputs(model, batch_size, context=5, new=9, seed=1)
    session = ort.InferenceSession(str(paths["denoiser"]), options, ["CPUExecutionProvider"])
    feeds = {name: value.numpy() for name, value in zip(DENOISER_INPUTS, inputs, strict=True)}
    (onnx_x0,) = session.run(None, feeds)
    errors["denoiser"] = float(np.abs(onnx_x0 - model.dit(*inputs).numpy()).max())
    return errors


def main() -> None:
    import argparse

    from models.motion_checkpoint import load_inference_checkpoint

    parser = argparse.ArgumentParser(description="export the motion model to ONNX")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_inference_checkpoint(args.checkpoint)
    paths = export_motion(model, args.out)
    for name, error in check_parity(model, paths).items():
        print(f"{name}: {paths[name]} max |onnxruntime - torch| = {error:.2e}")


if __name__ == "__main__":
    main()
