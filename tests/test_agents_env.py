"""`pip install "gioconda[pipecat,livekit]"` beside the agent frameworks: the environment
resolves (pip check), none of their distributions installs a top-level package under one of our
names, the default avatar renders without mediapipe, and preparing a portrait there says what to
do instead of failing on an import. Runs in .venv-agents (scripts/setup_agents.sh); skips where
mediapipe is installed (the main environment), since that is not an agent environment."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("mediapipe") is not None:
    pytest.skip("the main environment (mediapipe installed)", allow_module_level=True)
pytest.importorskip("pipecat")
pytest.importorskip("livekit.agents")

REPO = Path(__file__).resolve().parents[1]
OUR_PACKAGES = {"models", "engine", "server", "tests", "examples"}


def test_environment_resolves() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_other_distribution_installs_a_package_with_our_names() -> None:
    """Generic top-level names (server, models) would shadow ours, or ours theirs."""
    clashes = []
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or "?"
        if name.lower() == "gioconda":
            continue
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if len(Path(str(f)).parts) > 1}
        top_level = dist.read_text("top_level.txt") or ""
        tops |= {line.strip() for line in top_level.splitlines() if line.strip()}
        clashes += [f"{name}: {top}" for top in sorted(tops & OUR_PACKAGES)]
    assert clashes == []


def test_default_avatar_renders_and_preparing_says_what_to_install(tmp_path: Path) -> None:
    from engine.avatar.source import load_avatar
    from engine.errors import AvatarError
    from engine.render.preview import render_with

    frame = render_with(load_avatar(None), {"jawOpen": 0.6})
    assert frame.shape == (512, 512, 3) and frame.std() > 10
    with pytest.raises(AvatarError) as refused:
        load_avatar(REPO / "engine" / "assets" / "mona_lisa.jpg")
    assert refused.value.reason == "prepare_unavailable"
    assert "gioconda[portraits]" in str(refused.value)


def test_prepare_command_fails_with_the_reason_not_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "prepare", "engine/assets/mona_lisa_197px.jpg",
         "-o", str(tmp_path / "m.avatar.npz")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "gioconda[portraits]" in result.stderr and "Traceback" not in result.stderr


def test_an_upload_to_a_server_here_is_refused_with_the_reason_every_time() -> None:
    """The upload worker says prepare_unavailable; it starts its process once to learn that."""
    from engine.avatar.worker import PreparationWorker
    from engine.errors import AvatarError

    worker = PreparationWorker()
    portrait = (REPO / "engine" / "assets" / "mona_lisa_197px.jpg").read_bytes()
    try:
        for _ in range(2):
            with pytest.raises(AvatarError) as refused:
                worker.prepare(portrait, "mona")
            assert refused.value.reason == "prepare_unavailable"
            assert "gioconda[portraits]" in str(refused.value)
    finally:
        worker.close()
