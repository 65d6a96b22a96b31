"""The renderer keeps a frame's freed tensors in the heap (engine/render/memory.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = "from engine.render.memory import keep_freed_memory as k; print(k(), k())"


def _run(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(not os.confstr("CS_GNU_LIBC_VERSION"), reason="glibc only")
def test_thresholds_are_raised_once_unless_the_operator_set_them() -> None:
    """Bug: glibc returned the decoder's 0.1-3 MB tensors to the kernel on every free, so each
    frame faulted ~650 pages back in (~2 ms of a 14 ms frame). The setting is made once per
    process; a MALLOC_*_THRESHOLD_ in the environment is the operator's and wins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert _run(env) == "True True"
    assert _run({**env, "MALLOC_TRIM_THRESHOLD_": "131072"}) == "False False"


@pytest.mark.skipif(not os.confstr("CS_GNU_LIBC_VERSION"), reason="glibc only")
def test_opening_a_renderer_sets_them() -> None:
    code = (
        "from engine.avatar.source import load_avatar; "
        "from engine.render.renderer import AvatarRenderer; from engine.render import memory; "
        "AvatarRenderer(load_avatar(None)); print(memory._done)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "True"
