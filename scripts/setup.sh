#!/usr/bin/env bash
# Create .venv in the repository root and install Gioconda into it (CPU torch, no CUDA packages,
# the built-in Piper voice).
# Idempotent: a second run only checks. Needs Python 3.11; as root it also installs the Debian
# packages the synthetic-speech tools use (espeak-ng) and the browser end-to-end test uses
# (chromium, driven by the playwright package; no browser is ever downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -e /usr/lib/x86_64-linux-gnu/libespeak-ng.so.1 ] && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q espeak-ng libespeak-ng1 >/dev/null
fi
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q chromium fonts-dejavu-core >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU wheel first: with it in place, nothing below pulls the multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev,voice,portraits]"
