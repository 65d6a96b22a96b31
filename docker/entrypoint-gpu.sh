#!/bin/sh
# GPU container start: export the graphs and build TensorRT engines for this GPU into the data
# volume (a no-op check when the model, GPU and TensorRT version are unchanged), then run
# `gioconda "$@"`. A failed build is not fatal: the server falls back along
# tensorrt -> torch-cuda -> onnxruntime -> torch-cpu and logs which backend runs.
set -eu
export_dir="${GIOCONDA_EXPORT_DIR:-/data/export}"
if ! gioconda export --format tensorrt \
    --precision "${GIOCONDA_PRECISION:-fp16}" \
    --max-batch "${GIOCONDA_MAX_BATCH:-8}" \
    --out "$export_dir"; then
    echo "gioconda: TensorRT engines not built; the server will use the next backend" >&2
fi
exec gioconda "$@"
