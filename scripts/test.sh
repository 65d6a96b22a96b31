#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite, then the linters.
# The Pipecat and LiveKit tests run in their own environment (scripts/setup_agents.sh: both
# frameworks need protobuf>=5, which mediapipe 0.10.21 cannot load), on a portrait prepared here;
# GIOCONDA_SKIP_AGENTS=1 leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
if [ "${GIOCONDA_SKIP_AGENTS:-0}" != 1 ]; then
  bash scripts/setup_agents.sh
  mkdir -p out/test-avatars
  .venv/bin/python -c "
from pathlib import Path
from engine.avatar.prepare import prepare_avatar
prepare_avatar(Path('engine/assets/astronaut.png')).save(Path('out/test-avatars/astronaut.avatar.npz'))"
  GIOCONDA_TEST_AVATARS=out/test-avatars .venv-agents/bin/python -m pytest -q -p no:cacheprovider \
    tests/test_pipecat.py tests/test_livekit.py tests/test_pipecat_bot.py
fi
.venv/bin/ruff check models engine server tests examples
.venv/bin/mypy engine server
