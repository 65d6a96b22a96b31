#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite, then the linters.
# The Pipecat and LiveKit tests run in their own environment, installed with those extras
# (scripts/setup_agents.sh: both frameworks need protobuf>=5, which the [portraits] extra's
# mediapipe cannot load); they render the default avatar, which ships prepared.
# GIOCONDA_SKIP_AGENTS=1 leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
if [ "${GIOCONDA_SKIP_AGENTS:-0}" != 1 ]; then
  bash scripts/setup_agents.sh
  .venv-agents/bin/python -m pytest -q -p no:cacheprovider \
    tests/test_agents_env.py tests/test_pipecat.py tests/test_livekit.py tests/test_pipecat_bot.py
fi
.venv/bin/ruff check models engine server tests examples
.venv/bin/mypy engine server
