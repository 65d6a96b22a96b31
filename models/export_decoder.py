"""Export the decoder to ONNX: one graph for every avatar (avatar tensors are graph inputs)."""

from __future__ import annotations

from pathlib import Path

import torch

from models import motion_space as ms
from models.decoder import AVATAR_INPUTS, FaceDecoder

ONNX_OPSET = 17
DECODER_VERSION = 1


def export_decoder(
    decoder: FaceDecoder, avatar_inputs: dict[str, torch.Tensor], path: Path, example_batch: int = 2
) -> Path:
    """Write `decoder` as ONNX with a dynamic batch axis on `motion` and `frames`."""
    decoder.eval()
    motion = avatar_inputs["source_motion"][None].repeat(example_batch, 1)  # (B, D)
    args = (motion, *(avatar_inputs[name] for name in AVATAR_INPUTS))
    torch.onnx.export(
        decoder,
        args,
        str(path),
        input_names=["motion", *AVATAR_INPUTS],
        output_names=["frames"],
        dynamic_axes={"motion": {0: "batch"}, "frames": {0: "batch"}},
        opset_version=ONNX_OPSET,
        dynamo=False,
    )
    _add_metadata(path, decoder)
    return path


def _add_metadata(path: Path, decoder: FaceDecoder) -> None:
    import onnx

    model = onnx.load(str(path))
    meta = {
        "model": "gioconda-face-decoder",
        "model_version": str(DECODER_VERSION),
        "motion_space_version": str(ms.MOTION_SPACE_VERSION),
        "grid_size": str(decoder.config.grid_size),
        "crop_px": str(decoder.config.crop_px),
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
