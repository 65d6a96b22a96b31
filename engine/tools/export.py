"""`gioconda export`: write the three graphs as ONNX and, for TensorRT, build engines from them.

Offline step (STYLE 8): the runtime only loads what this writes into `out_dir`:

    out_dir/audio_encoder.onnx   audio (batch, samples) -> features (batch, frames, D)
    out_dir/denoiser.onnx        MotionDiT.forward's nine inputs -> x0 (batch, tokens, M)
    out_dir/decoder.onnx         motion (batch, D) + avatar tensors -> frames (batch, H, W, 3) uint8
    out_dir/manifest.json        what was written, with each graph's metadata
    out_dir/engines/<graph>-<key>.plan   TensorRT engines (--format tensorrt)

Every graph carries metadata: model, model_version, motion_space_version, preset, opset and a
source_hash of what it was exported from. A graph whose source_hash is unchanged is not exported
again, and an engine whose key (source hash, GPU, TensorRT version, precision, shape ranges) is
unchanged is not rebuilt, so a container's second start only loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import onnx
import torch

from engine.avatar.prepared import PreparedAvatar
from engine.backends.base import BackendConfig, BackendError, BackendName, GraphName, Precision
from engine.backends.graphs import (
    FEATURE_FRAME_RANGE,
    GraphDef,
    audio_encoder_graph,
    decoder_graph,
    denoiser_graph,
    engine_precision,
    tensorrt_profile,
)
from engine.backends.select import engine_path, onnx_metadata
from engine.backends.tensorrt_backend import import_tensorrt
from engine.render.renderer import avatar_arrays, avatar_tensors
from models import motion_space as ms
from models.decoder import DecoderConfig, FaceDecoder
from models.export_decoder import DECODER_VERSION, ONNX_OPSET, export_decoder
from models.export_motion import export_motion, frontend_samples
from models.motion_checkpoint import CHECKPOINT_FORMAT, MotionModel

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


class ExportFormat(StrEnum):
    ONNX = "onnx"
    TENSORRT = "tensorrt"


@dataclass(frozen=True)
class ExportRequest:
    out_dir: Path
    format: ExportFormat = ExportFormat.ONNX
    precision: Precision = Precision.FP32
    max_batch: int = 8
    force: bool = False  # export again even when the source hash is unchanged


@dataclass
class ExportResult:
    graphs: dict[GraphName, Path] = field(default_factory=dict)
    engines: dict[GraphName, Path] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)  # graphs/engines found up to date


def motion_source_hash(model: MotionModel) -> str:
    digest = hashlib.sha256(json.dumps(model.configs(), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def decoder_source_hash(config: DecoderConfig, graph: GraphDef) -> str:
    identity = {
        "decoder_version": DECODER_VERSION,
        "config": asdict(config),
        "inputs": [(s.name, list(s.shape)) for s in graph.inputs],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def motion_graphs(model: MotionModel) -> dict[GraphName, GraphDef]:
    return {
        GraphName.AUDIO_ENCODER: audio_encoder_graph(model.encoder.config.out_dim),
        GraphName.DENOISER: denoiser_graph(model.dit.config.motion_dim, model.dit.config.audio_dim),
    }


def load_export_inputs(
    weights: Path | None, image: Path | None
) -> tuple[MotionModel, str, PreparedAvatar]:
    """The motion checkpoint (default: the committed S weights), its preset and the example avatar
    whose tensor shapes the decoder graph is traced with (default: the built-in portrait)."""
    from engine.avatar.source import load_avatar
    from engine.motion.clip import DEFAULT_WEIGHTS, load_checkpoint

    model, meta = load_checkpoint(weights or DEFAULT_WEIGHTS)
    return model, str(meta.get("preset", "unknown")), load_avatar(image)


def export_graphs(
    request: ExportRequest, model: MotionModel, preset: str, avatar: PreparedAvatar
) -> ExportResult:
    """Export (or reuse) the three ONNX graphs, then build (or reuse) engines for tensorrt."""
    if request.format == ExportFormat.ONNX and request.precision != Precision.FP32:
        raise BackendError(
            "ONNX graphs are exported in fp32; --precision fp16 applies to TensorRT engines "
            "(--format tensorrt)",
            reason="bad_export_request",
        )
    if request.max_batch < 1:
        raise BackendError("--max-batch must be at least 1", reason="bad_export_request")
    if request.format == ExportFormat.TENSORRT:
        import_tensorrt()  # fail before minutes of export, saying why
    request.out_dir.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    _export_motion(request, model, preset, result)
    decoder_def = export_decoder_graph(request, avatar, result)
    _write_manifest(request, result)
    if request.format == ExportFormat.TENSORRT:
        samples = {f: frontend_samples(model, f) for f in FEATURE_FRAME_RANGE}
        graphs = {**motion_graphs(model), GraphName.DECODER: decoder_def}
        config = BackendConfig(
            backend=BackendName.TENSORRT,
            artifacts_dir=request.out_dir,
            precision=request.precision,
            max_batch=request.max_batch,
            build_missing_engines=True,
        )
        for name, graph in graphs.items():
            profile = tensorrt_profile(graph, request.max_batch, samples)
            result.engines[name] = engine_path(graph, result.graphs[name], config, profile)
        _write_manifest(request, result)
    return result


def _up_to_date(path: Path, source_hash: str, force: bool) -> bool:
    return not force and path.is_file() and onnx_metadata(path).get("source_hash") == source_hash


def _export_motion(
    request: ExportRequest, model: MotionModel, preset: str, result: ExportResult
) -> None:
    source_hash = motion_source_hash(model)
    names = (GraphName.AUDIO_ENCODER, GraphName.DENOISER)
    graphs = motion_graphs(model)
    paths = {name: request.out_dir / f"{name}.onnx" for name in names}
    if all(_up_to_date(p, source_hash, request.force) for p in paths.values()):
        result.graphs.update(paths)
        result.reused.extend(str(n) for n in names)
        return
    with tempfile.TemporaryDirectory(dir=request.out_dir) as tmp:
        written = export_motion(model, Path(tmp))
        for name in names:
            _add_metadata(
                written[str(name)],
                {
                    "model": f"gioconda-{name}".replace("_", "-"),
                    "model_version": CHECKPOINT_FORMAT,
                    "preset": preset,
                    "source_hash": source_hash,
                },
                graphs[name],
            )
            shutil.move(written[str(name)], paths[name])
    result.graphs.update(paths)


def export_decoder_graph(
    request: ExportRequest, avatar: PreparedAvatar, result: ExportResult
) -> GraphDef:
    # gather runs faster in onnxruntime; TensorRT has a native 4-D GridSample layer.
    sampler = "grid_sample" if request.format == ExportFormat.TENSORRT else "gather"
    config = DecoderConfig.for_rig(avatar.rig, sampler=sampler)
    graph = decoder_graph(avatar_arrays(avatar), config.crop_px)
    source_hash = decoder_source_hash(config, graph)
    path = request.out_dir / graph.onnx_file
    result.graphs[GraphName.DECODER] = path
    if _up_to_date(path, source_hash, request.force):
        result.reused.append(str(GraphName.DECODER))
        return graph
    tmp = path.with_suffix(".tmp.onnx")
    export_decoder(FaceDecoder(config), avatar_tensors(avatar), tmp)
    if request.format == ExportFormat.TENSORRT:
        _cast_output_last(tmp)
    _add_metadata(
        tmp,
        {"preset": f"rig-warp-{sampler}", "sampler": sampler, "source_hash": source_hash},
        graph,
    )
    tmp.replace(path)
    return graph


def _cast_output_last(path: Path) -> None:
    """Reorder the decoder's tail from Cast(uint8) -> Transpose to Transpose -> Cast(uint8).

    TensorRT supports uint8 as a network output produced by a Cast; a Transpose (shuffle) on
    uint8 is not guaranteed. Same values, the transpose just moves floats instead of bytes.
    """
    model = onnx.load(str(path))
    nodes = model.graph.node
    transpose, cast = nodes[-1], next((n for n in nodes if n.output[0] == nodes[-1].input[0]), None)
    uses = sum(cast.output[0] in n.input for n in nodes) if cast is not None else 0
    if transpose.op_type != "Transpose" or cast is None or cast.op_type != "Cast" or uses != 1:
        return
    output, moved = transpose.output[0], f"{transpose.output[0]}_before_cast"
    transpose.input[0], transpose.output[0] = cast.input[0], moved
    cast.input[0], cast.output[0] = moved, output
    nodes.remove(cast)
    nodes.append(cast)
    onnx.save(model, str(path))


def _add_metadata(path: Path, values: dict[str, str], graph: GraphDef) -> None:
    """Write the metadata, and the static sizes of output axes the tracer left symbolic (the
    decoder's frames came out as (batch, Transposeframes_dim_1, ...)): TensorRT and io_spec()
    see the real shapes."""
    model = onnx.load(str(path))
    for output, spec in zip(model.graph.output, graph.outputs, strict=True):
        for dim, size in zip(output.type.tensor_type.shape.dim, spec.shape, strict=True):
            if isinstance(size, int):
                dim.dim_value = size
            else:
                dim.dim_param = size
    values = {
        "motion_space_version": str(ms.MOTION_SPACE_VERSION),
        "opset": str(ONNX_OPSET),
        "exported_with_torch": torch.__version__,
        **values,
    }
    existing = {prop.key: prop for prop in model.metadata_props}
    for key, value in values.items():
        entry = existing.get(key) or model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def _write_manifest(request: ExportRequest, result: ExportResult) -> None:
    manifest = {
        "format": str(request.format),
        "precision": str(request.precision),
        "max_batch": request.max_batch,
        "graphs": {
            str(name): {"file": path.name, "metadata": onnx_metadata(path)}
            for name, path in result.graphs.items()
        },
        "engines": {
            str(name): {
                "file": str(path.relative_to(request.out_dir)),
                "precision": str(engine_precision(name, request.precision)),
            }
            for name, path in result.engines.items()
        },
    }
    (request.out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
