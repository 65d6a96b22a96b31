#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite, then the linters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
.venv/bin/ruff check models engine server tests
.venv/bin/mypy engine server
