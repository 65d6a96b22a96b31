"""What the local face evaluations (face_eval.py, eye_eval.py, mouth_eval.py) and the decoder
timings (decoder_ab.py, mouth_bench.py) share. It is imported from this directory, so it and
tests/face_metrics.py always come from this tree, whichever tree PYTHONPATH points the engine at
(an export of the old code for a before/after comparison).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
SHARED_PORTRAITS = ROOT.parent / "shared" / "data" / "portraits"
LOCAL_PORTRAITS = OUT / "portraits"  # portraits you add for local checks (never committed)


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def face_metrics() -> ModuleType:
    """This tree's tests/face_metrics.py (eye ratio, mouth opening, iris shift, interior)."""
    return _load("face_metrics", ROOT / "tests" / "face_metrics.py")


def tree_decoder(tree: Path) -> ModuleType:
    """models/decoder.py of another tree (e.g. `git archive main | tar -x -C TREE`)."""
    return _load("old_decoder", tree / "models" / "decoder.py")


def portrait(name: str) -> Path:
    """A portrait by file name: ../shared/data/portraits, then out/portraits."""
    shared = SHARED_PORTRAITS / name
    return shared if shared.exists() else LOCAL_PORTRAITS / name
