"""Several model worker threads in one engine: streams are spread over them, each stream's frames
are what one worker would make, and closing a stream frees its worker's share."""

from __future__ import annotations

import numpy as np
import pytest

from engine.contract import StreamOptions
from engine.stream.engine import StreamEngine
from tests.stream_harness import Run, drive_offline_together
from tests.test_motion_model import random_model

PORTRAITS = ("astronaut.png", "mona_lisa.jpg", "astronaut.png")


def _offline_runs(engine: StreamEngine, prepared_avatar) -> tuple[list[Run], list[int]]:
    streams = [
        engine.create_stream(prepared_avatar(name), StreamOptions(fps=25, seed=i), realtime=False)
        for i, name in enumerate(PORTRAITS)
    ]
    loads = engine.worker_loads  # while every stream is open
    return drive_offline_together(streams), loads


def test_streams_spread_over_workers_and_keep_their_frames(prepared_avatar) -> None:
    model = random_model()
    two, one = StreamEngine(model=model, workers=2), StreamEngine(model=model)
    try:
        spread, loads = _offline_runs(two, prepared_avatar)
        alone, _ = _offline_runs(one, prepared_avatar)
        assert sorted(loads) == [1, 2], "new streams go to the least loaded worker"
        assert two.worker_loads == [0, 0], "closed streams leave their workers"
        assert two.stats.frames_rendered >= 60 and one.stats.frames_rendered >= 60  # + read-ahead
    finally:
        two.close()
        one.close()
    for a, b in zip(spread, alone, strict=True):
        assert len(a.frames) == len(b.frames) == 20
        assert sum(a.speaking()) == sum(b.speaking()) > 0
        for x, y in zip(a.frames, b.frames, strict=True):
            # Windows batched with different partners may round a rare value apart.
            difference = np.abs(x.video.astype(int) - y.video)
            assert difference.max() <= 1 and np.count_nonzero(difference) < 1000  # of 786,432


def test_an_engine_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="workers"):
        StreamEngine(model=random_model(), workers=0)
