"""The Pipecat example bot (examples/pipecat_bot) answered in headless Chromium: the page
connects over SmallWebRTC, 512x512 video arrives, the greeting's speech arrives as audio, and a
typed message is said back by the built-in voice. Screenshots: out/pipecat_bot_*.png.

Runs in the agents environment (docs/agents.md) on the built-in portrait, which ships prepared
(that environment has no mediapipe); skips where Pipecat is not installed. Traffic stays on
loopback (--ice-loopback only).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pipecat")
pytest.importorskip("playwright.sync_api")

from tests.browser_harness import CHROMIUM, CHROMIUM_FLAGS, chromium  # noqa: E402
from tests.server_harness import free_port  # noqa: E402
from tests.test_browser import OUT_DIR  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bot_url(tmp_path: Path) -> tuple[str, Path]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium package")
    port = free_port()
    log = tmp_path / "bot.log"
    command = [sys.executable, "examples/pipecat_bot/bot.py", "--ice-loopback", "only"]
    command += ["--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("w") as out:
        bot = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(600):
            if "Running on" in log.read_text():
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/", log
    finally:
        bot.terminate()
        try:
            bot.wait(15)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()


def test_example_bot_greets_and_says_back_what_is_typed(bot_url: tuple[str, Path]) -> None:
    url, log = bot_url
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with chromium(CHROMIUM_FLAGS, 700, 760) as context:
        page = context.new_page()
        page.goto(url)
        page.click("#connect")
        page.wait_for_function("() => video.videoWidth > 0", timeout=90_000)
        size = page.evaluate("() => [video.videoWidth, video.videoHeight]")
        page.wait_for_function(
            "async () => { let e = 0; (await window.bot.pc.getStats()).forEach(r => {"
            " if (r.type === 'inbound-rtp' && r.kind === 'audio') e = r.totalAudioEnergy;"
            " }); return e > 0.01; }",
            timeout=60_000,
        )
        page.screenshot(path=str(OUT_DIR / "pipecat_bot_greeting.png"))
        page.wait_for_function("() => !document.getElementById('send').disabled")
        page.fill("#text", "Nice to meet you")
        page.click("#send")
        for _ in range(300):
            if "You said: Nice to meet you" in log.read_text():
                break
            time.sleep(0.1)
        time.sleep(1.0)
        page.screenshot(path=str(OUT_DIR / "pipecat_bot_echo.png"))
    assert size == [512, 512]
    assert "Generating TTS [You said: Nice to meet you]" in log.read_text()
