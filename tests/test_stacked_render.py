"""Frames of different avatars in one decoder call (how a GPU batches many sessions): the stacked
call must give every frame exactly what that avatar's own renderer gives, and the stream
scheduler must use it when renderers allow stacking."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backends.base import BackendConfig, BackendName
from engine.bench.decoder import motion_sweep
from engine.contract import StreamOptions
from engine.render.renderer import AvatarRenderer, render_stacked
from engine.stream.engine import StreamEngine
from tests.stream_harness import Run, drive_offline_together
from tests.test_motion_model import random_model

STACKING = BackendConfig(backend=BackendName.TORCH_CPU, stack_avatars=True)
PORTRAITS = ("astronaut.png", "mona_lisa.jpg")


def test_stacked_call_equals_each_avatars_own_renderer(prepared_avatar) -> None:
    avatars = [prepared_avatar(name) for name in PORTRAITS]
    renderers = [AvatarRenderer(a, backend=STACKING) for a in avatars]
    motions = [motion_sweep(a, 3) for a in avatars]
    own = [r.render(m) for r, m in zip(renderers, motions, strict=True)]

    # Interleaved, with parts of different sizes, as sessions' frames arrive in a round.
    parts = [
        (renderers[0], motions[0][:1]),
        (renderers[1], motions[1]),
        (renderers[0], motions[0][1:]),
    ]
    stacked = render_stacked(parts)

    assert [len(f) for f in stacked] == [1, 3, 2]
    # The stacked call evaluates the mouth's seam fit with bmm, the own renderer with a plain
    # matmul: float rounding may put a pixel one level apart, never more.
    for got, want in ((stacked[0], own[0][:1]), (stacked[1], own[1]), (stacked[2], own[0][1:])):
        diff = np.abs(got.astype(int) - want)
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-4, (diff.max(), (diff > 0).sum())
    assert np.abs(stacked[1][0].astype(int) - stacked[0][0]).mean() > 20, "two portraits"


def test_renderers_that_cannot_stack_are_refused(prepared_avatar) -> None:
    avatar = prepared_avatar("astronaut.png")
    plain = AvatarRenderer(avatar, backend=BackendConfig(backend=BackendName.TORCH_CPU))
    assert plain.stack_key is None, "on a CPU, stacking is off unless asked for"
    stacking = AvatarRenderer(avatar, backend=STACKING)
    with pytest.raises(ValueError, match="cannot share a decoder call"):
        render_stacked([(plain, motion_sweep(avatar, 1)), (stacking, motion_sweep(avatar, 1))])


def _two_offline_streams(engine: StreamEngine, prepared_avatar) -> list[Run]:
    streams = [
        engine.create_stream(prepared_avatar(name), StreamOptions(fps=25, seed=i), realtime=False)
        for i, name in enumerate(PORTRAITS)
    ]
    return drive_offline_together(streams)


def test_streams_of_different_avatars_share_decoder_calls_and_keep_their_frames(
    prepared_avatar,
) -> None:
    model = random_model()
    # Both on torch-cpu, decoder and motion: stacking is the only difference.
    separate_config = BackendConfig(backend=BackendName.TORCH_CPU)
    stacking = StreamEngine(model=model, backend=STACKING)
    separate = StreamEngine(model=model, backend=separate_config)
    try:
        stacked_runs = _two_offline_streams(stacking, prepared_avatar)
        separate_runs = _two_offline_streams(separate, prepared_avatar)
    finally:
        stacking.close()
        separate.close()

    assert stacking.stats.stacked_batches > 0, "frames of both avatars went into one call"
    assert separate.stats.stacked_batches == 0
    assert stacking.stats.render_batches < separate.stats.render_batches
    for stacked, alone in zip(stacked_runs, separate_runs, strict=True):
        assert len(stacked.frames) == len(alone.frames) == 20
        for a, b in zip(stacked.frames, alone.frames, strict=True):
            # The decoder call itself is exact (test above); which motion windows the sampler
            # batched together differs between the runs, so a rare value may round apart.
            difference = np.abs(a.video.astype(int) - b.video)
            assert difference.max() <= 1 and np.count_nonzero(difference) < 100
