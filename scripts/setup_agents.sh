#!/usr/bin/env bash
# Create .venv-agents: Gioconda installed with its [pipecat] and [livekit] extras, as an agent
# developer installs it next to those frameworks. Both need protobuf>=5, which the [portraits]
# extra's mediapipe 0.10.21 cannot load, so this environment prepares no portraits: it loads
# prepared .avatar.npz files and the default avatar that ships prepared (docs/agents.md).
# Idempotent. Usage: bash scripts/setup_agents.sh [pipecat|livekit|pipecat,livekit] (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
EXTRAS=${1:-pipecat,livekit}
VENV=.venv-agents

[ -x $VENV/bin/python ] || "$PYTHON" -m venv $VENV
$VENV/bin/python -m pip install -q --upgrade pip
$VENV/bin/python -m pip install -q torch==2.13.0  # the CPU wheel first: nothing pulls CUDA
$VENV/bin/python -m pip install -q -e ".[dev,voice,$EXTRAS]"
$VENV/bin/python -m pip check
