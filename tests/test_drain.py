"""Graceful drain and quiet logs, on a real `gioconda serve` process: SIGTERM with a live call
turns /readyz false and new offers into 503 + Retry-After while the call keeps streaming and is
told over its control channel; the process exits when drain_timeout_s runs out. Credentials a
client put in a URL never reach the log. A second SIGTERM exits at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from server.app import create_app
from server.clients.bench_webrtc import wait_ready
from server.clients.speak_client import speech_url
from server.drain import DrainingServer
from server.settings import IceLoopback
from server.transport.webrtc import configure_ice_loopback
from tests.server_harness import REPO_ROOT, free_port, server_settings, shared_engine, start_call

DRAIN_TIMEOUT_S = 6.0
URL_SECRETS = ("sekrit-api-key-1234", "gt_secret-ticket-5678")


def _serve(tmp_path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "OMP_NUM_THREADS": "1",
        "GIOCONDA_WARM_UP": "false",  # ready without the warm-up inference: a shorter test
    }
    command = [
        sys.executable, "-m", "server.cli", "serve",
        "--port", str(port),
        "--ice-loopback", "only",
        "--data-dir", str(tmp_path / "store"),
        "--drain-timeout-s", str(DRAIN_TIMEOUT_S),
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "gioconda serve exited while starting"
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError("gioconda serve did not become ready")


def test_sigterm_drains_a_live_call_then_exits_and_logs_hold_no_secrets(tmp_path: Path) -> None:
    """Regression: SIGTERM cut live calls within 0.5 s; `?api_key=` on the websocket wrote the
    key into the access log."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    process = _serve(tmp_path, port, log)
    try:
        _wait_ready(url, process)
        configure_ice_loopback(IceLoopback.ONLY)  # this process's client offers loopback only
        seen = asyncio.run(_drain_scenario(url, process))
        process.wait(timeout=DRAIN_TIMEOUT_S + 20)
        seen["exit_after_s"] = time.monotonic() - seen["sigterm_s"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert seen["ready"].status_code == 503 and seen["ready"].json()["error"] == "draining"
    offer = seen["offer"]
    assert (offer.status_code, offer.json()["error"]) == (503, "draining")
    assert 1 <= int(offer.headers["Retry-After"]) <= DRAIN_TIMEOUT_S
    assert seen["state"] == 200
    assert seen["frames_while_draining"], seen  # the live call kept streaming
    assert {"type": "draining", "deadline_s": DRAIN_TIMEOUT_S} in seen["told"]
    # It waited for the call, then exited when the drain timeout ran out.
    assert DRAIN_TIMEOUT_S - 1 < seen["exit_after_s"] < DRAIN_TIMEOUT_S + 15, seen["exit_after_s"]
    assert "drain timeout: closing 1 call(s)" in output
    for secret in URL_SECRETS:
        assert secret not in output
    assert "api_key=REDACTED" in output and "ticket=REDACTED" in output


async def _drain_scenario(url: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    call = await start_call(url)
    seen: dict[str, Any] = {}
    try:
        speech = speech_url(url, call.session_id)
        for query in (f"?api_key={URL_SECRETS[0]}", f"?ticket={URL_SECRETS[1]}"):
            with pytest.raises(websockets.ConnectionClosed):
                async with websockets.connect(speech + query) as ws:
                    await asyncio.wait_for(ws.recv(), 10)
        await asyncio.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        seen["sigterm_s"] = time.monotonic()
        frames_before = len(call.frames)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await asyncio.sleep(0.5)
            seen["ready"] = await client.get("/readyz")
            offer = {"sdp": call.pc.localDescription.sdp}
            seen["offer"] = await client.post("/v1/sessions", json=offer)
            path = f"/v1/sessions/{call.session_id}"
            seen["state"] = (await client.get(path, headers=call.headers)).status_code
        seen["frames_while_draining"] = await call.frames_arrive(count=20)
        seen["frames_since_sigterm"] = len(call.frames) - frames_before
        seen["told"] = [json.loads(m) for m in call.channel_messages]
        # The call stays on until the server ends it.
        await asyncio.to_thread(process.wait, DRAIN_TIMEOUT_S + 20)
    finally:
        for task in call.tasks:
            task.cancel()
        await call.pc.close()
    return seen


def test_a_second_sigterm_exits_at_once(tmp_path: Path) -> None:
    """The drain's way out: the second SIGTERM ends the server without waiting for calls.
    (uvicorn in a thread cannot take signals, so its handler is called as the signal would.)"""
    settings = server_settings(tmp_path, drain_timeout_s=120.0, warm_up=False)
    app = create_app(settings, shared_engine())
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    server = DrainingServer(config, app, settings.drain_timeout_s)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://{settings.host}:{settings.port}"
    wait_ready(base, timeout_s=120)

    async def scenario() -> tuple[int, float]:
        call = await start_call(base)
        try:
            await asyncio.sleep(0.5)
            server.handle_exit(signal.SIGTERM, None)
            await asyncio.sleep(1.0)
            async with httpx.AsyncClient() as client:
                draining = (await client.get(base + "/readyz", timeout=5)).status_code
            second_s = time.monotonic()
            server.handle_exit(signal.SIGTERM, None)
            await asyncio.to_thread(thread.join, 20)
            return draining, time.monotonic() - second_s
        finally:
            for task in call.tasks:
                task.cancel()
            await call.pc.close()

    draining, exit_s = asyncio.run(scenario())
    assert draining == 503
    assert not thread.is_alive() and exit_s < 10, exit_s  # not the 120 s drain timeout
