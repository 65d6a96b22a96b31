#!/usr/bin/env bash
# Prepare, on this (CPU) machine, what a GPU measurement run needs, in .gpu_kit/ (git-ignored):
#   - the default avatar, prepared here: the GPU machine has no mediapipe;
#   - wheels (Python 3.12, x86-64) of the few packages the CLI imports that the GPU machine's
#     image lacks (pydantic, pydantic-settings and their own needs); torch, numpy, onnx,
#     onnxruntime, opencv and pillow are already there.
# Then on the GPU machine (the device tool's `run`, carrying .gpu_kit):
#   bash scripts/gpu_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.gpu_kit
mkdir -p "$KIT/wheels"
.venv/bin/python - "$KIT/astronaut.avatar.npz" <<'PY'
import sys

from engine.avatar_source import load_avatar

load_avatar(None).save(sys.argv[1])
print(f"prepared the default avatar into {sys.argv[1]}")
PY
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$KIT/wheels" \
    pydantic==2.14.3 pydantic-core==2.50.4 pydantic-settings==2.16.3 python-dotenv==1.2.4 \
    typing-inspection==0.4.5 annotated-types==0.8.0
du -sh "$KIT"
