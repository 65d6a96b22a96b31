"""The blendshape page (web/blendshapes.html) in Debian's headless Chromium via Playwright: it
starts a live session with outputs video + blendshapes, its fake microphone speaks, and the
three.js head's ARKit morph targets follow the values arriving on the control channel, next to
the video. Screenshots go to out/blendshapes_page.png, out/blendshapes_head.png and
out/blendshapes_head_open.png (held while jawOpen > 0.25)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from engine.bench.stream import speech_like
from tests.browser_harness import CHROMIUM, CHROMIUM_FLAGS, chromium
from tests.server_harness import REPO_ROOT, SPEECH_WAV, running_server, server_settings

OUT_DIR = REPO_ROOT / "out"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")


# Hold the head still at a moment when the mouth is well open, for a screenshot.
OPEN_THEN_HOLD = """() => {
    const g = window.gioconda;
    if (g.influence('jawOpen') > 0.25) g.paused = true;
    return g.paused;
}"""


def run_page(base_url: str, speech_wav: Path) -> dict[str, Any]:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={speech_wav}"]
    flags += ["--enable-unsafe-swiftshader"]  # WebGL on the CPU: the machine has no GPU
    seen: dict[str, Any] = {"console": []}
    with chromium(flags, 1400, 760) as context:
        page = context.new_page()
        page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: seen["console"].append(f"error: {e}"))
        page.goto(base_url + "/blendshapes.html")
        page.wait_for_function("() => window.gioconda && window.gioconda.influence")
        page.click("#start")
        page.wait_for_function("() => window.gioconda.applied > 40", timeout=60_000)
        page.wait_for_function(
            "() => document.getElementById('video').videoWidth > 0", timeout=30_000
        )
        page.wait_for_function(OPEN_THEN_HOLD, timeout=60_000)
        page.locator("#head").screenshot(path=str(OUT_DIR / "blendshapes_head_open.png"))
        page.evaluate("() => { window.gioconda.paused = false; }")
        seen["before"] = page.evaluate("() => window.gioconda.applied")
        page.wait_for_timeout(500)
        seen.update(
            page.evaluate(
                """() => {
            const g = window.gioconda, names = ['jawOpen', 'eyeBlinkLeft', 'mouthFunnel'];
            return {applied: g.applied, frames: g.frames, maxJawOpen: g.maxJawOpen,
                    influences: names.map((n) => g.influence(n)), lastValues: g.last.values,
                    videoSize: [document.getElementById('video').videoWidth,
                                document.getElementById('video').videoHeight]};
        }"""
            )
        )
        page.screenshot(path=str(OUT_DIR / "blendshapes_page.png"))
        page.locator("#head").screenshot(path=str(OUT_DIR / "blendshapes_head.png"))
        page.click("#stop")
    return seen


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone's 16-bit PCM WAV: the LJ Speech sentence where ../shared/data has it,
    else syllable-rate voiced bursts."""
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    if SPEECH_WAV.is_file():
        audio, rate = soundfile.read(SPEECH_WAV, dtype="float32")
    else:
        audio, rate = (
            np.concatenate([speech_like(2.0, seed=1), np.zeros(8000, np.float32)] * 4),
            16_000,
        )
    soundfile.write(path, audio, rate, subtype="PCM_16")
    return path


def test_the_page_drives_a_morph_target_head_next_to_the_video(
    tmp_path: Path, speech_wav: Path
) -> None:
    from engine.motion.blendshapes import VALUE_COLUMNS

    with running_server(server_settings(tmp_path)) as server:
        seen = run_page(server.url, speech_wav)
    errors = [line for line in seen["console"] if line.startswith("error")]
    assert not errors, errors
    assert seen["videoSize"] == [512, 512], "the video plays beside the head"
    assert seen["applied"] > seen["before"], "values keep arriving and being applied"
    assert seen["maxJawOpen"] > 0.25, "speech opened the mouth"
    last = dict(zip(VALUE_COLUMNS, seen["lastValues"], strict=True))
    jaw, blink, funnel = seen["influences"]
    assert jaw == pytest.approx(last["jawOpen"]) and blink == pytest.approx(last["eyeBlinkLeft"])
    assert funnel == pytest.approx(last["mouthFunnel"])
