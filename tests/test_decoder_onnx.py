"""The decoder exports to ONNX (opset 17, 4-D GridSample or gathers, no custom ops) and
onnxruntime reproduces torch's frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from engine.avatar.prepared import PreparedAvatar
from engine.render.onnx_decoder import OnnxDecoder
from engine.render.renderer import AvatarRenderer, avatar_tensors
from models import motion_space as ms
from models.decoder import DecoderConfig, FaceDecoder
from models.export_decoder import ONNX_OPSET, export_decoder

STANDARD_OPS = {"", "ai.onnx"}


def _motions(avatar: PreparedAvatar) -> np.ndarray:
    own = avatar.source_motion
    return np.stack(
        [
            own,
            ms.with_fields(own, jawOpen=1.0, eyeBlinkLeft=1.0),
            ms.with_fields(
                own, yaw=own[0] + 0.3, pitch=own[1] - 0.2, eyeLookX=1.0, mouthSmileLeft=1.0
            ),
        ]
    )


@pytest.mark.parametrize("sampler", ["grid_sample", "gather"])
def test_onnxruntime_matches_torch(
    sampler: str, tmp_path: Path, prepared_avatar: Callable[[str], PreparedAvatar]
) -> None:
    avatar = prepared_avatar("astronaut.png")
    path = tmp_path / "decoder.onnx"
    export_decoder(FaceDecoder(DecoderConfig(sampler=sampler)), avatar_tensors(avatar), path)
    graph = onnx.load(str(path))
    assert graph.opset_import[0].version >= ONNX_OPSET
    assert {op.domain for op in graph.graph.node} <= STANDARD_OPS, "custom ops in the graph"
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["motion_space_version"] == str(ms.MOTION_SPACE_VERSION)

    motions = _motions(avatar)
    expected = AvatarRenderer(avatar).render(motions).astype(int)  # torch, native grid_sample
    got = OnnxDecoder(path, avatar).render(motions).astype(int)  # dynamic batch of 3
    diff = np.abs(got - expected)
    # Float rounding may flip a pixel by one level; nothing more.
    assert diff.max() <= 2 and (diff > 1).mean() < 1e-4, f"max {diff.max()}, mean {diff.mean():.4f}"
