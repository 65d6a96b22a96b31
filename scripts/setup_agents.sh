#!/usr/bin/env bash
# Create .venv-agents: Gioconda's engine next to Pipecat (extra [pipecat]) and LiveKit Agents
# ([livekit]). Both frameworks need protobuf>=5, and mediapipe 0.10.21 fails with it ("Failed to
# parse: node {" when a face graph starts), so this environment has no mediapipe: it prepares no
# portraits, it loads prepared .avatar.npz files (see docs/agents.md). Idempotent.
# Usage: bash scripts/setup_agents.sh [pipecat|livekit|pipecat,livekit]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
EXTRAS=${1:-pipecat,livekit}
VENV=.venv-agents

[ -x $VENV/bin/python ] || "$PYTHON" -m venv $VENV
$VENV/bin/python -m pip install -q --upgrade pip
$VENV/bin/python -m pip install -q torch==2.13.0
# Gioconda's own dependencies, less mediapipe and its opencv-contrib build (Pipecat brings
# opencv-python-headless; the engine's runtime needs neither).
mapfile -t DEPS < <($VENV/bin/python - "$EXTRAS" <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
skip = ("mediapipe", "opencv-contrib-python")
deps = [d for d in project["dependencies"] if not d.startswith(skip)]
for extra in ["dev", "voice", *sys.argv[1].split(",")]:
    deps += project["optional-dependencies"][extra]
print("\n".join(d for d in deps if not d.startswith(skip)))
PY
)
$VENV/bin/python -m pip install -q "${DEPS[@]}"
$VENV/bin/python -m pip install -q --no-deps -e .
