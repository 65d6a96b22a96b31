#!/usr/bin/env bash
# Prepare, on this (CPU) machine, what a GPU measurement run needs, in .gpu_kit/ (git-ignored):
#   - the default avatar and Mona Lisa, prepared here: the GPU machine has no mediapipe;
#   - wheels (Python 3.12, x86-64) of the few packages the CLI imports that the GPU machine's
#     image lacks (pydantic, pydantic-settings and their own needs; soxr for the stream tests);
#     torch, numpy, onnx, onnxruntime, opencv, pillow and pytest are already there.
# Then on the GPU machine (the device tool's `run`, carrying .gpu_kit):
#   bash scripts/gpu_bench.sh          # also runs the CUDA / TensorRT tests with the kit's avatar
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.gpu_kit
mkdir -p "$KIT/wheels"
.venv/bin/python - "$KIT" <<'PY'
import sys
from pathlib import Path

from engine.avatar.source import ASSETS_DIR, load_avatar

for portrait in ("astronaut.png", "mona_lisa.jpg"):  # the default avatar, and a second one
    out = Path(sys.argv[1]) / f"{Path(portrait).stem}.avatar.npz"
    load_avatar(ASSETS_DIR / portrait).save(out)
    print(f"prepared {portrait} into {out}")
PY
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$KIT/wheels" \
    pydantic==2.14.3 pydantic-core==2.50.4 pydantic-settings==2.16.3 python-dotenv==1.2.4 \
    typing-inspection==0.4.5 annotated-types==0.8.0 soxr==1.1.0
du -sh "$KIT"
