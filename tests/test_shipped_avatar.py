"""The default avatar ships prepared, so environments without mediapipe (Pipecat, LiveKit) have one,
and preparing a portrait there says what to install instead of failing on an import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.avatar.prepared import PreparedAvatar
from engine.avatar.source import DEFAULT_PORTRAIT, shipped_avatar

REPO = Path(__file__).resolve().parents[1]
REMAKE = "gioconda prepare engine/assets/astronaut.png -o engine/assets/astronaut.avatar.npz"


def test_shipped_default_avatar_is_what_preparing_the_portrait_gives() -> None:
    """A shipped file left behind by a change to preparation would render a different face than
    the portrait does everywhere mediapipe is installed."""
    from engine.avatar.prepare import prepare_avatar

    shipped = shipped_avatar(DEFAULT_PORTRAIT)
    assert shipped is not None, f"the shipped avatar is missing or of an old format: {REMAKE}"
    fresh = prepare_avatar(DEFAULT_PORTRAIT)
    for name in ("image", "landmarks_px", "source_motion", "person_alpha", "background"):
        np.testing.assert_allclose(
            getattr(shipped, name), getattr(fresh, name), atol=1e-4, err_msg=f"{name}: {REMAKE}"
        )
    assert shipped.rig.keys() == fresh.rig.keys(), REMAKE
    for name, array in fresh.rig.items():
        np.testing.assert_allclose(shipped.rig[name], array, atol=1e-4, err_msg=f"{name}: {REMAKE}")


def test_shipped_avatar_of_another_format_is_not_used(tmp_path: Path) -> None:
    """An avatar file of an older format must be prepared again, not rendered wrongly."""
    portrait = tmp_path / "face.png"
    portrait.write_bytes(DEFAULT_PORTRAIT.read_bytes())
    assert shipped_avatar(portrait) is None  # none beside it
    (tmp_path / "face.avatar.npz").write_bytes(b"not an avatar")
    assert shipped_avatar(portrait) is None


_WITHOUT_MEDIAPIPE = """
import sys
sys.modules["mediapipe"] = None  # import mediapipe now raises ImportError, as where it is absent
from pathlib import Path
from engine.avatar.source import load_avatar
from engine.errors import AvatarError
avatar = load_avatar(None)
print("default", avatar.image.shape)
try:
    load_avatar(Path("engine/assets/mona_lisa.jpg"))
except AvatarError as exc:
    print("refused", exc.reason, exc)
"""


def test_without_mediapipe_the_default_loads_and_preparing_says_what_to_install() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MEDIAPIPE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "default (512, 512, 3)" in result.stdout
    assert "refused prepare_unavailable" in result.stdout
    assert "gioconda[portraits]" in result.stdout


def test_prepare_command_writes_a_loadable_avatar(tmp_path: Path) -> None:
    output = tmp_path / "mona.avatar.npz"
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "prepare", "engine/assets/mona_lisa_197px.jpg",
         "-o", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"wrote {output}" in result.stdout
    assert PreparedAvatar.load(output).image.shape == (512, 512, 3)


@pytest.mark.parametrize("name", ["mona.png", "mona.npz"])
def test_prepare_command_refuses_an_output_that_would_not_load_as_an_avatar(
    tmp_path: Path, name: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "prepare", "engine/assets/mona_lisa_197px.jpg",
         "-o", str(tmp_path / name)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert ".avatar.npz" in result.stderr
    assert not (tmp_path / name).exists()
