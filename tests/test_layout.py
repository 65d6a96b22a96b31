"""The layout of DESIGN.md ("Layout") and issue 11, checked on the source tree.

Imports point one way (server -> engine -> models); engine/ is one room per part with only the
contract and the errors at its top; the command line lives in server/commands; every transport
takes pacing and the AI label from server/transport/pacing.py; no module reads another object's
private fields. A newcomer who breaks one of these gets the offending file named here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# package -> top-level modules it must never import
FORBIDDEN = {
    "models": {
        "engine",
        "server",
        "fastapi",
        "aiortc",
        "mediapipe",
        "cv2",
        "onnxruntime",
    },  # onnx: export only
    "engine": {"server", "fastapi", "aiortc", "uvicorn"},
    "server": {"torch", "models"},
}
ENGINE_TOP_MODULES = {"__init__.py", "contract.py", "errors.py"}
ENGINE_PARTS = {
    "avatar",
    "motion",
    "render",
    "stream",
    "voice",
    "watermark",
    "backends",
    "tools",
    "bench",
    "assets",
}
ARGPARSE_HOMES = ("server/commands/", "server/cli.py")
PACING_HOME = "server/transport/pacing.py"
PACING_NAMES = {"MediaClockPump", "LabelPainter", "FrameSink"}


def _sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((REPO / package).rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported_modules(path: Path) -> set[str]:
    """Dotted names of every absolute import in the file (`import a.b`, `from a.b import c`)."""
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    offenders = {
        _rel(path): sorted(_top_level(_imported_modules(path)) & FORBIDDEN[package])
        for path in _sources(package)
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert not offenders, f"{package}/ imports what it must not: {offenders}"


def test_engine_is_one_room_per_part() -> None:
    """Only the contract, the errors and __init__ sit directly under engine/; everything else
    belongs to a part (avatar, motion, render, stream, backends, tools, bench)."""
    loose = sorted(p.name for p in (REPO / "engine").iterdir() if p.suffix == ".py")
    assert set(loose) == ENGINE_TOP_MODULES, f"modules loose in engine/: {loose}"
    parts = {p.name for p in (REPO / "engine").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert parts <= ENGINE_PARTS, f"unknown engine parts: {sorted(parts - ENGINE_PARTS)}"
    for part in parts - {"assets"}:
        assert (REPO / "engine" / part / "__init__.py").exists(), f"engine/{part} is no package"


def test_argparse_lives_in_the_command_line_only() -> None:
    offenders = [
        _rel(path)
        for path in _sources("models", "engine", "server")
        if "argparse" in _top_level(_imported_modules(path))
        and not _rel(path).startswith(ARGPARSE_HOMES)
    ]
    assert not offenders, f"argparse outside server/commands: {offenders}"


def test_transports_take_pacing_from_one_place() -> None:
    """The clock pump and the AI label are defined once; a transport that paces imports them."""
    definitions = {
        (node.name, _rel(path))
        for path in _sources("engine", "server")
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ClassDef) and node.name in PACING_NAMES
    }
    assert definitions == {(name, PACING_HOME) for name in PACING_NAMES}, definitions
    webrtc = _imported_modules(REPO / "server/transport/webrtc.py")
    sessions = _imported_modules(REPO / "server/live_sessions.py")
    assert "server.transport.pacing.MediaClockPump" in sessions | webrtc


def test_transport_never_imports_the_api() -> None:
    offenders = {
        _rel(path): sorted(n for n in _imported_modules(path) if n.startswith("server.api"))
        for path in _sources("server/transport")
    }
    assert not {p: n for p, n in offenders.items() if n}, offenders


def test_class_names_do_not_collide() -> None:
    """Regression (issue 11): server/sessions.py declared a Protocol also called StreamEngine."""
    where: dict[str, list[str]] = {}
    for path in _sources("engine", "server"):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(_rel(path))
    clashes = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not clashes, f"one class name, several classes: {clashes}"


def test_no_module_reads_another_objects_private_fields() -> None:
    """Regression (issue 11): motion_batch read `first._model.dit` and `first._generator`."""
    offenders = [
        f"{_rel(path)}:{node.lineno} {ast.unparse(node)}"
        for path in _sources("engine", "server")
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert not offenders, f"private fields read from outside: {offenders}"


def test_the_contract_names_classes_that_exist() -> None:
    """Every `engine.x.y.Name` in the contract's docstrings resolves to a class defined there."""
    import importlib
    import re

    text = (REPO / "engine/contract.py").read_text()
    for dotted in set(re.findall(r"`(engine(?:\.[a-z_]+)+)\.([A-Z]\w+)`", text)):
        module, name = dotted
        defined = {
            node.name
            for node in ast.walk(_tree(REPO / (module.replace(".", "/") + ".py")))
            if isinstance(node, ast.ClassDef)
        }
        assert name in defined, f"contract names {module}.{name}, which is not defined there"
        importlib.import_module(module)
