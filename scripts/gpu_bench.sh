#!/usr/bin/env bash
# The GPU measurements issue 6 asks for, in one go, for docs/benchmarks.md: the machine, then
# the tests that need a GPU (CUDA and TensorRT parity, stacked calls), `gioconda bench render` on
# torch-cuda (fp16 and fp32; batches 1..64, one avatar and stacked), `gioconda bench stream`
# with 8..48 live sessions on distinct avatars, and TensorRT where it imports. Prepare .gpu_kit
# first (scripts/gpu_kit.sh, on the CPU machine). Results go to $RESULTS (default: $OUT where
# the device tool sets it, else out/gpu). TESTS=0 skips the tests.
# A dry run of the same steps on a CPU: BACKEND=torch-cpu PRECISIONS=fp32 STREAMS=1,2 \
#     PYTHON=.venv/bin/python bash scripts/gpu_bench.sh
set -uo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-.gpu_kit}
PY=${PYTHON:-python3}
BACKEND=${BACKEND:-torch-cuda}
PRECISIONS=${PRECISIONS:-fp16 fp32}
BATCHES=${BATCHES:-1,8,32,64}
RESULTS=${RESULTS:-${OUT:-out/gpu}}
mkdir -p "$RESULTS"
export PYTHONPATH="$PWD"
if ! "$PY" -c "import pydantic_settings" 2>/dev/null; then  # the GPU image lacks it
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/gioconda-site \
        "$KIT"/wheels/*.whl || exit 1
    export PYTHONPATH="/tmp/gioconda-site:$PWD"
fi
export PYTHONUNBUFFERED=1
{
    date -u +"%Y-%m-%d %H:%M UTC"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
        || echo "no nvidia-smi"
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee "$RESULTS/machine.txt"

bench() {  # backend precision
    "$PY" -m server.cli bench render --backend "$1" --precision "$2" --batches "$BATCHES" \
        --image "$KIT/astronaut.avatar.npz" 2>&1 | tee "$RESULTS/bench-render-$1-$2.txt"
}
status=0
if [ "${TESTS:-1}" = 1 ]; then  # the GPU-only tests (skipped on CPU machines), kit avatars
    GIOCONDA_TEST_AVATARS="$KIT" "$PY" -m pytest -q -p no:cacheprovider -rs \
        tests/test_backends.py tests/test_device_placement.py tests/test_stacked_render.py \
        2>&1 | tee "$RESULTS/tests.txt" || status=1
fi
for precision in $PRECISIONS; do
    bench "$BACKEND" "$precision" || status=1
done
# Live streams end to end on the engine (no network): how many 40 fps sessions, each on its own
# avatar, the machine sustains with WORKERS model worker threads (the decoder backend is `auto`).
"$PY" -m server.cli bench stream "$KIT/astronaut.avatar.npz" --streams "${STREAMS:-8,16,32,48}" \
    --workers "${WORKERS:-4}" --distinct-avatars --seconds "${STREAM_SECONDS:-8}" 2>&1 \
    | tee "$RESULTS/bench-stream.txt" || status=1
if [ "$BACKEND" = torch-cuda ] && "$PY" -c "import tensorrt" 2>/dev/null; then
    bench tensorrt fp16 || status=1
else
    echo "tensorrt: not importable here, not measured" | tee "$RESULTS/tensorrt.txt"
fi
exit $status
