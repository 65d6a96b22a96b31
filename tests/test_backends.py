"""Backends: one interface (io_spec, run), parity of every exported graph between torch and
onnxruntime through it, the fallback order and its log line, and TensorRT / CUDA parity where
those run (skipped elsewhere, with the reason)."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.avatar.prepared import PreparedAvatar
from engine.backends import BackendConfig, BackendError, BackendName, Precision
from engine.backends.motion import BackendDenoiser, open_audio_encoder, open_denoiser
from engine.backends.select import candidates
from engine.render.renderer import (
    AvatarRenderer,
    default_backend_config,
    open_decoder_backend,
    set_default_backend_config,
)
from engine.tools.export import ExportFormat, ExportRequest, export_graphs
from models import motion_space as ms
from models.diffusion import ddim_sample
from models.export_motion import DENOISER_INPUTS, example_audio, example_denoiser_inputs
from models.motion_checkpoint import MotionModel
from tests.test_decoder_onnx import _motions
from tests.test_motion_model import random_model

torch.set_num_threads(1)

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
HAS_CUDA = torch.cuda.is_available()
NO_TENSORRT = "tensorrt is not importable here (CPU-only machine, no NVIDIA TensorRT wheel)"
# fp32 graphs: differences come from operator order only (same tolerance as the export tests).
MOTION_ATOL = 1e-4


@pytest.fixture(scope="module")
def model() -> MotionModel:
    return random_model()


@pytest.fixture(scope="module")
def avatar(prepared_avatar: Callable[[str], PreparedAvatar]) -> PreparedAvatar:
    return prepared_avatar("astronaut.png")


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, model: MotionModel, avatar: PreparedAvatar
) -> Path:
    out = tmp_path_factory.mktemp("export")
    export_graphs(ExportRequest(out), model, "S", avatar)
    return out


def _config(name: BackendName, artifacts: Path | None = None, **kw: object) -> BackendConfig:
    return BackendConfig(backend=name, artifacts_dir=artifacts, **kw)  # type: ignore[arg-type]


def _frames_close(got: np.ndarray, expected: np.ndarray) -> None:
    diff = np.abs(got.astype(int) - expected.astype(int))
    # Float rounding (and gather vs grid_sample) may flip a pixel by a level or two.
    assert diff.max() <= 2 and (diff > 1).mean() < 1e-4, f"max {diff.max()}, mean {diff.mean()}"


def test_auto_means_torch_cpu_without_cuda_and_the_gpu_order_with_it() -> None:
    assert candidates(BackendName.AUTO, cuda=False) == (BackendName.TORCH_CPU,)
    assert candidates(BackendName.AUTO, cuda=True) == (
        BackendName.TENSORRT,
        BackendName.TORCH_CUDA,
        BackendName.ONNXRUNTIME,
        BackendName.TORCH_CPU,
    )
    assert candidates(BackendName.ONNXRUNTIME, cuda=False)[0] == BackendName.ONNXRUNTIME


def test_io_spec_lists_the_call_inputs_with_named_batch_axes(
    exported: Path, avatar: PreparedAvatar
) -> None:
    for name in (BackendName.TORCH_CPU, BackendName.ONNXRUNTIME):
        backend = open_decoder_backend(avatar, _config(name, exported), strict=True)
        spec = backend.io_spec()
        assert backend.name == name
        assert [(s.name, s.shape, s.dtype) for s in spec.inputs] == [
            ("motion", ("batch", ms.MOTION_DIM), "float32")
        ], "avatar tensors are bound once, not passed per call"
        assert spec.outputs[0].shape == ("batch", 512, 512, 3) and spec.outputs[0].dtype == "uint8"


def test_decoder_backends_agree(exported: Path, avatar: PreparedAvatar) -> None:
    motions = _motions(avatar)
    expected = AvatarRenderer(avatar).render(motions)  # torch-cpu, the reference
    onnx = AvatarRenderer(avatar, backend=_config(BackendName.ONNXRUNTIME, exported))
    assert onnx.backend.name == BackendName.ONNXRUNTIME
    _frames_close(onnx.render(motions), expected)
    _frames_close(onnx.render(motions[1]), expected[1:2])  # batch size changes between calls


def test_audio_encoder_backends_agree(exported: Path, model: MotionModel) -> None:
    audio = example_audio(model, 3, frames=13, seed=2).numpy()  # not the export's example shape
    outputs = [
        open_audio_encoder(model, _config(name, exported), strict=True).run({"audio": audio})
        for name in (BackendName.TORCH_CPU, BackendName.ONNXRUNTIME)
    ]
    torch_features, onnx_features = (out["features"] for out in outputs)
    assert torch_features.shape == (3, 13, model.encoder.config.out_dim)
    np.testing.assert_allclose(onnx_features, torch_features, atol=MOTION_ATOL)


def test_denoiser_backends_agree_and_drive_the_sampler(exported: Path, model: MotionModel) -> None:
    inputs = example_denoiser_inputs(model, 4, context=8, new=6, seed=3)
    feeds = {n: v.numpy() for n, v in zip(DENOISER_INPUTS, inputs, strict=True)}
    backends = [
        open_denoiser(model, _config(name, exported), strict=True)
        for name in (BackendName.TORCH_CPU, BackendName.ONNXRUNTIME)
    ]
    torch_x0, onnx_x0 = (b.run(feeds)["x0"] for b in backends)
    np.testing.assert_allclose(onnx_x0, torch_x0, atol=MOTION_ATOL)

    # A whole guided DDIM window through the onnxruntime denoiser equals the torch sampler's.
    from engine.bench.render import _window_condition
    from engine.motion.profiles import get_profile

    cond = _window_condition(model, get_profile("low-latency"))
    noise = torch.randn(cond.context_motion.shape, generator=torch.Generator().manual_seed(4))
    reference = ddim_sample(model.dit, noise, cond, 4, guidance_scale=1.5)
    through_onnx = ddim_sample(
        BackendDenoiser(backends[1], model.dit).as_dit(), noise, cond, 4, guidance_scale=1.5
    )
    np.testing.assert_allclose(through_onnx.numpy(), reference.numpy(), atol=1e-3)


def test_renderers_use_the_process_default_backend(exported: Path, avatar: PreparedAvatar) -> None:
    """What a server sets once at start-up reaches every AvatarRenderer (the scheduler's too)."""
    before = default_backend_config()
    try:
        set_default_backend_config(_config(BackendName.ONNXRUNTIME, exported))
        assert AvatarRenderer(avatar).backend.name == BackendName.ONNXRUNTIME
    finally:
        set_default_backend_config(before)
    assert AvatarRenderer(avatar).backend.name == BackendName.TORCH_CPU


def test_unavailable_backend_falls_back_in_order_and_says_why(
    exported: Path, avatar: PreparedAvatar, caplog: pytest.LogCaptureFixture
) -> None:
    if HAS_TENSORRT and HAS_CUDA:
        pytest.skip("tensorrt runs here, so it does not fall back")
    with caplog.at_level(logging.INFO, logger="engine.backends.select"):
        backend = open_decoder_backend(avatar, _config(BackendName.TENSORRT, exported))
    assert backend.name == BackendName.ONNXRUNTIME
    line = next(r.getMessage() for r in caplog.records if "decoder runs on" in r.getMessage())
    assert "onnxruntime" in line and "skipped tensorrt" in line, line

    # No export folder: onnxruntime cannot open, torch-cpu takes over.
    backend = open_decoder_backend(avatar, _config(BackendName.ONNXRUNTIME))
    assert backend.name == BackendName.TORCH_CPU
    with pytest.raises(BackendError, match="gioconda export"):
        open_decoder_backend(avatar, _config(BackendName.ONNXRUNTIME), strict=True)


def test_wrong_input_names_are_refused_clearly(exported: Path, avatar: PreparedAvatar) -> None:
    backend = open_decoder_backend(avatar, _config(BackendName.ONNXRUNTIME, exported), strict=True)
    with pytest.raises(BackendError, match="motion"):
        backend.run({"pose": np.zeros((1, ms.MOTION_DIM), np.float32)})


@pytest.mark.skipif(not HAS_CUDA, reason="torch sees no CUDA device on this machine")
@pytest.mark.parametrize("precision", [Precision.FP32, Precision.FP16])
def test_torch_cuda_decoder_matches_cpu(avatar: PreparedAvatar, precision: Precision) -> None:
    motions = _motions(avatar)
    expected = AvatarRenderer(avatar).render(motions)
    cuda = AvatarRenderer(
        avatar, backend=_config(BackendName.TORCH_CUDA, precision=precision)
    ).render(motions)
    diff = np.abs(cuda.astype(int) - expected.astype(int))
    # The rig geometry stays fp32 under autocast; kernels differ in rounding at edges.
    assert (diff > 8).mean() < 0.01, f"{(diff > 8).mean():.4f} of values differ by > 8"


@pytest.mark.skipif(not HAS_CUDA, reason="torch sees no CUDA device on this machine")
def test_torch_cuda_stacked_call_matches_each_avatars_own(avatar: PreparedAvatar) -> None:
    from engine.render.renderer import render_stacked

    motions = _motions(avatar)
    config = BackendConfig(backend=BackendName.TORCH_CUDA)
    renderers = [AvatarRenderer(avatar, backend=config) for _ in range(2)]
    assert renderers[0].stack_key is not None, "stacking is on by default on CUDA"
    own = renderers[0].render(motions)
    stacked = render_stacked([(renderers[0], motions[:1]), (renderers[1], motions[1:])])
    assert np.array_equal(np.concatenate(stacked), own)


def test_tensorrt_decoder_engines_are_built_in_fp32() -> None:
    from engine.backends.base import GraphName
    from engine.backends.graphs import engine_precision

    assert engine_precision(GraphName.DECODER, Precision.FP16) == Precision.FP32
    assert engine_precision(GraphName.DENOISER, Precision.FP16) == Precision.FP16
    assert engine_precision(GraphName.AUDIO_ENCODER, Precision.BF16) == Precision.BF16


@pytest.mark.skipif(not (HAS_TENSORRT and HAS_CUDA), reason=NO_TENSORRT)
@pytest.mark.parametrize("precision", [Precision.FP32, Precision.FP16])
def test_tensorrt_matches_torch(
    tmp_path: Path, model: MotionModel, avatar: PreparedAvatar, precision: Precision
) -> None:
    import tensorrt

    if precision != Precision.FP32 and not hasattr(tensorrt.BuilderFlag, precision.name):
        pytest.skip(f"TensorRT {tensorrt.__version__} has no {precision.name} builder flag")
    request = ExportRequest(tmp_path, ExportFormat.TENSORRT, precision, max_batch=4)
    result = export_graphs(request, model, "S", avatar)
    assert set(result.engines) == {"audio_encoder", "denoiser", "decoder"}
    again = export_graphs(request, model, "S", avatar)
    assert again.engines == result.engines, "a second export must reuse the cached engines"
    config = _config(BackendName.TENSORRT, tmp_path, precision=precision, max_batch=4)
    atol = MOTION_ATOL if precision == Precision.FP32 else 2e-2

    audio = example_audio(model, 2, frames=8, seed=2).numpy()
    reference = open_audio_encoder(model, _config(BackendName.TORCH_CPU)).run({"audio": audio})
    trt_out = open_audio_encoder(model, config, strict=True).run({"audio": audio})
    np.testing.assert_allclose(trt_out["features"], reference["features"], atol=atol)

    inputs = example_denoiser_inputs(model, 3, seed=3)
    feeds = {n: v.numpy() for n, v in zip(DENOISER_INPUTS, inputs, strict=True)}
    reference = open_denoiser(model, _config(BackendName.TORCH_CPU)).run(feeds)
    trt_out = open_denoiser(model, config, strict=True).run(feeds)
    np.testing.assert_allclose(trt_out["x0"], reference["x0"], atol=atol)

    motions = np.concatenate([_motions(avatar)] * 3)  # batch 9 > max_batch 4: chunked
    expected = AvatarRenderer(avatar).render(motions)
    got = AvatarRenderer(avatar, backend=config).render(motions)
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert (diff > 8).mean() < 1e-3, "the decoder engine is fp32 whatever --precision says"


@pytest.mark.skipif(HAS_CUDA, reason="auto means the GPU order where CUDA is present")
def test_auto_samples_motion_on_onnxruntime_without_a_gpu(
    model: MotionModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from engine.backends import motion

    denoiser = motion.sampling_denoiser(model, BackendConfig())
    assert isinstance(denoiser, BackendDenoiser)
    assert denoiser.backend.name == BackendName.ONNXRUNTIME

    def broken_export(*_: object) -> None:
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(motion, "export_denoiser", broken_export)
    with caplog.at_level(logging.INFO):
        assert motion.sampling_denoiser(model, BackendConfig()) is None, "torch-cpu runs"
    assert "exporting the motion denoiser for onnxruntime failed" in caplog.text
    assert "denoiser runs on torch-cpu" in caplog.text
