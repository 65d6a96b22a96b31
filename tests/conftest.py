"""Generic fixtures shared by all tests: where the repo and the test media are, prepared avatars.

Test media live in ../shared/data (next to the repository); the portraits that may be committed
are also in engine/assets, so tests run from a bare checkout. Files marked "local only" in
../shared/data/SOURCES.md are skipped where absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from engine.avatar.prepared import PreparedAvatar

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
ASSETS = REPO_ROOT / "engine" / "assets"
LOCAL_ONLY_PORTRAITS = frozenset({"caricature.png"})


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; it may be absent on CI, so look files up with portrait_path."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def portrait_path() -> Callable[[str], Path]:
    """name -> path of a test portrait, from ../shared/data/portraits or else engine/assets."""

    def find(name: str) -> Path:
        for folder in (SHARED_DATA / "portraits", ASSETS):
            if (folder / name).is_file():
                return folder / name
        if name in LOCAL_ONLY_PORTRAITS:
            pytest.skip(f"{name} is local-only media and is not present here")
        raise FileNotFoundError(f"test portrait {name} is in neither {SHARED_DATA} nor {ASSETS}")

    return find


@pytest.fixture(scope="session")
def prepared_avatar(portrait_path: Callable[[str], Path]) -> Callable[[str], PreparedAvatar]:
    """name -> PreparedAvatar of that portrait, prepared once per test session (~1 s each).

    A bundled portrait that ships prepared (the astronaut) is loaded, as the server does. Where
    GIOCONDA_TEST_AVATARS names a folder holding NAME.avatar.npz (prepared elsewhere, e.g.
    .gpu_kit from scripts/gpu_kit.sh), that file is loaded instead: machines without mediapipe,
    such as the lent GPU machine or the agents environment, can then run the tests that need
    another prepared avatar."""
    cache: dict[str, PreparedAvatar] = {}
    prepared_dir = os.environ.get("GIOCONDA_TEST_AVATARS")

    def prepare(name: str) -> PreparedAvatar:
        if name not in cache:
            stored = Path(prepared_dir or ".") / f"{Path(name).stem}.avatar.npz"
            if prepared_dir and stored.is_file():
                from engine.avatar.prepared import PreparedAvatar

                cache[name] = PreparedAvatar.load(stored)
            else:
                from engine.avatar.source import shipped_avatar

                shipped = shipped_avatar(ASSETS / name)
                if shipped is None:
                    from engine.avatar.prepare import prepare_avatar  # mediapipe: only if needed

                    shipped = prepare_avatar(portrait_path(name))
                cache[name] = shipped
        return cache[name]

    return prepare
