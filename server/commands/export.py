"""`gioconda export`: audio encoder, motion denoiser and decoder as ONNX, or TensorRT engines."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FORMATS = ("onnx", "tensorrt")  # engine.tools.export.ExportFormat
PRECISIONS = ("fp32", "fp16")  # engine.backends.Precision (bf16 is a torch-cuda setting)
DEFAULT_OUT = Path("out/export")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the audio encoder, motion denoiser and decoder (ONNX; TensorRT engines)",
        description="Writes audio_encoder.onnx, denoiser.onnx and decoder.onnx (opset 17, dynamic "
        "batch axis, metadata) and manifest.json under --out. With --format tensorrt it also "
        "builds engines under OUT/engines, cached by model hash, GPU name and TensorRT version: "
        "a second run with nothing changed only checks.",
    )
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="engine precision: fp16 for tensorrt by default; ONNX graphs are fp32",
    )
    parser.add_argument(
        "--max-batch", type=int, default=8, help="largest batch the engines are built for"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument(
        "--weights", type=Path, default=None, help="motion checkpoint (default: committed S)"
    )
    parser.add_argument(
        "--image",
        type=Path,
        default=None,
        help="portrait or .avatar.npz whose tensor shapes trace the decoder (default: built-in)",
    )
    parser.add_argument("--force", action="store_true", help="export even if up to date")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.backends import Precision
    from engine.tools.export import ExportFormat, ExportRequest, export_graphs, load_export_inputs

    request = ExportRequest(
        out_dir=args.out,
        format=ExportFormat(args.format),
        precision=Precision(args.precision or ("fp16" if args.format == "tensorrt" else "fp32")),
        max_batch=args.max_batch,
        force=args.force,
    )
    if request.format == ExportFormat.TENSORRT:
        from engine.backends.tensorrt_backend import import_tensorrt

        import_tensorrt()  # before the model and portrait load: say at once why it cannot run
    model, preset, avatar = load_export_inputs(args.weights, args.image)
    result = export_graphs(request, model, preset, avatar)
    for name, path in result.graphs.items():
        state = "up to date" if str(name) in result.reused else "written"
        print(f"{name}: {path} ({state})")
    for name, path in result.engines.items():
        print(f"{name} engine: {path}")
    print(f"manifest: {args.out / 'manifest.json'}")
    return 0
