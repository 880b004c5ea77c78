#!/usr/bin/env bash
# The main job: generate C for the VWW model, build it with the host gcc, run it once
# on a fixed input and print its output and arena size.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=${1:-../shared/models/vww.tflite}
OUT=build/demo
rm -rf "$OUT" && mkdir -p "$OUT/gen"
.venv/bin/tinyengine generate "$MODEL" --out "$OUT/gen"
gcc -std=c11 -O2 -Wall -Wextra -Werror -I TinyEngine/include -I "$OUT/gen" \
    "$OUT"/gen/*.c TinyEngine/src/kernels/*.c examples/host/main.c -lm -o "$OUT/model"
"$OUT/model"
