"""bench webrtc --background-load reports per burst what the client saw: a stall inside one
burst's stretch shows as that burst's low fps and longest frame gap, not averaged away."""

from __future__ import annotations

import numpy as np
import pytest

from server.clients.bench_webrtc import Burst, WebrtcBenchOptions, burst_rows, print_load_rows


def test_burst_rows_show_a_stall_in_the_burst_where_it_happened(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bursts = [Burst(10.0 + 3 * i, loaded=i < 3) for i in range(4)]
    steady = list(np.arange(10.0, 24.0, 0.025))
    stalled = [t for t in steady if not 13.5 <= t < 14.5]  # 1 s without frames in burst 2
    rows = burst_rows(bursts, [0.25, None, 0.3, 0.26], stalled)

    assert [r.start_s for r in rows] == [0.0, 3.0, 6.0, 9.0]
    assert all(abs(rows[i].fps - 40.0) < 0.5 for i in (0, 2, 3))
    assert rows[1].fps < 30.0 and rows[1].gap_max_s > 0.99 and rows[0].gap_max_s < 0.03
    assert rows[1].latency_s is None and [r.loaded for r in rows] == [True, True, True, False]

    print_load_rows(rows, WebrtcBenchOptions(background_load=2, uploads=1), uploads_done=1)
    out = capsys.readouterr().out
    assert "not detected" in out and "1 of 1 upload(s)" in out
    assert "longest 10" in out  # the 1 s stall, in ms
    assert "latency spread 50 ms" in out and "after the load 40" in out
