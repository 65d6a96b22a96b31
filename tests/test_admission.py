"""Admission by measured capacity (issue 13): the engine measures its per-frame cost while a
call runs; a session that would push the running ones past the budget is refused with 503
server_full, a reason and Retry-After, and /readyz says the server is full until it is not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.server_harness import running_server, server_settings, shared_engine, start_call


def test_the_engine_measures_its_load_while_a_call_runs(tmp_path: Path) -> None:
    engine = shared_engine()
    with running_server(server_settings(tmp_path), engine) as server:

        async def scenario() -> tuple[float | None, float | None]:
            call = await start_call(server.url)
            try:
                await asyncio.sleep(2.0)
                return engine.load(), engine.load(extra_fps=40)
            finally:
                await call.close()

        now, with_one_more = asyncio.run(scenario())
    assert now is not None and with_one_more is not None
    assert 0.0 < now < with_one_more, (now, with_one_more)
    # One more session at the same rate doubles the frames owed by the one worker.
    assert with_one_more == pytest.approx(2 * now, rel=0.5)


def test_a_session_past_the_budget_is_refused_and_readyz_says_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any measured cost is over this budget: the decision, not this machine's speed, is tested.
    settings = server_settings(tmp_path, max_sessions=4, admit_max_load=1e-6)
    with running_server(settings) as server:

        async def scenario() -> dict[str, httpx.Response]:
            seen = {}
            call = await start_call(server.url)  # the first is always admitted
            try:
                await asyncio.sleep(1.5)  # frames flow; the worker measures their cost
                async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                    seen["ready_while_full"] = await client.get("/readyz")
                    offer = call.pc.localDescription.sdp
                    seen["second"] = await client.post("/v1/sessions", json={"sdp": offer})
            finally:
                await call.close()
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                seen["ready_after"] = await client.get("/readyz")
                seen["metrics"] = await client.get("/metrics")
            return seen

        seen = asyncio.run(scenario())
    full = seen["ready_while_full"]
    assert full.status_code == 503 and full.json()["error"] == "server_full", full.text
    second = seen["second"]
    assert second.status_code == 503, second.text
    assert second.json()["error"] == "server_full" and "capacity" in second.json()["detail"]
    assert int(second.headers["Retry-After"]) > 0
    assert seen["ready_after"].json() == {"ready": True}, "no session left: ready again"
    assert 'gioconda_rejections_total{reason="server_full"} 1.0' in seen["metrics"].text
