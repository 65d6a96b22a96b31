"""`gioconda export`: three ONNX graphs (opset 17+, standard ops, named dynamic batch axes,
metadata), a manifest, no re-export when nothing changed, and clear refusals."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from engine.avatar.prepared import PreparedAvatar
from engine.backends.onnxruntime_backend import OnnxRuntimeBackend
from engine.render.renderer import AvatarRenderer, avatar_arrays
from engine.tools.export import ExportFormat, ExportRequest, ExportResult, export_decoder_graph
from models import motion_space as ms
from models.motion_checkpoint import save_inference_checkpoint
from server.cli import main
from tests.test_decoder_onnx import _motions
from tests.test_motion_model import random_model

GRAPHS = ("audio_encoder", "denoiser", "decoder")
METADATA = ("model", "model_version", "motion_space_version", "preset", "source_hash", "opset")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "motion_S.pt"
    save_inference_checkpoint(path, random_model(), "S", {"note": "random, for tests"})
    return path


def _batch_axes(graph: onnx.ModelProto) -> dict[str, str]:
    """name -> the symbolic name of axis 0 of every input and output that has one."""
    values = [*graph.graph.input, *graph.graph.output]
    return {
        v.name: v.type.tensor_type.shape.dim[0].dim_param
        for v in values
        if v.type.tensor_type.shape.dim and v.type.tensor_type.shape.dim[0].dim_param
    }


def test_export_writes_three_graphs_then_reuses_them(
    tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert main(["export", "--out", str(out), "--weights", str(weights)]) == 0
    for name in GRAPHS:
        graph = onnx.load(str(out / f"{name}.onnx"))
        assert graph.opset_import[0].version >= 17
        assert {op.domain for op in graph.graph.node} <= {"", "ai.onnx"}, "custom ops"
        meta = {p.key: p.value for p in graph.metadata_props}
        assert set(METADATA) <= set(meta), f"{name} metadata lacks {set(METADATA) - set(meta)}"
        assert meta["motion_space_version"] == str(ms.MOTION_SPACE_VERSION)
        axes = _batch_axes(graph)
        assert axes and set(axes.values()) == {"batch"}, f"{name}: {axes}"
    decoder_axes = _batch_axes(onnx.load(str(out / "decoder.onnx")))
    assert set(decoder_axes) == {"motion", "frames"}, "avatar tensors are per-avatar, not batched"
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["graphs"]) == set(GRAPHS)
    assert manifest["graphs"]["denoiser"]["metadata"]["preset"] == "S"

    mtimes = {name: (out / f"{name}.onnx").stat().st_mtime_ns for name in GRAPHS}
    capsys.readouterr()
    assert main(["export", "--out", str(out), "--weights", str(weights)]) == 0
    assert capsys.readouterr().out.count("(up to date)") == 3
    assert mtimes == {name: (out / f"{name}.onnx").stat().st_mtime_ns for name in GRAPHS}


def test_fp16_onnx_export_is_refused_clearly(
    tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["export", "--out", str(tmp_path), "--weights", str(weights), "--precision", "fp16"]
    assert main(argv) == 2
    assert "--format tensorrt" in capsys.readouterr().err


@pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here"
)
def test_tensorrt_export_says_why_it_cannot_run_here(
    tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["export", "--out", str(tmp_path), "--weights", str(weights), "--format", "tensorrt"]
    assert main(argv) == 2
    assert "tensorrt is not installed" in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "nothing is exported before the refusal"


def test_missing_weights_are_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--out", str(tmp_path), "--weights", str(tmp_path / "no.pt")]) == 2
    assert "weights not found" in capsys.readouterr().err


def test_tensorrt_flavour_decoder_graph_runs_and_casts_last(
    tmp_path: Path, prepared_avatar: Callable[[str], PreparedAvatar]
) -> None:
    """The graph TensorRT is given (grid_sample, uint8 Cast moved after the Transpose) is checked
    here in onnxruntime, since TensorRT itself is not on CI."""
    avatar = prepared_avatar("astronaut.png")
    request = ExportRequest(tmp_path, ExportFormat.TENSORRT)
    export_decoder_graph(request, avatar, ExportResult())
    graph = onnx.load(str(tmp_path / "decoder.onnx"))
    assert graph.graph.node[-1].op_type == "Cast" and graph.graph.node[-1].output[0] == "frames"
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["sampler"] == "grid_sample"
    backend = OnnxRuntimeBackend(tmp_path / "decoder.onnx", avatar_arrays(avatar))
    motions = _motions(avatar)
    got = backend.run({"motion": motions})["frames"]
    expected = AvatarRenderer(avatar).render(motions)
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 2 and (diff > 1).mean() < 1e-4, f"max {diff.max()}"
