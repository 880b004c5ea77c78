#!/usr/bin/env bash
# The main job: a PlatformIO project for the simulated Cortex-M7 with the VWW model,
# built and run under QEMU (`pio run -t exec`): prints the model's outputs and the
# instructions te_invoke() executed. The model is generated at build time by the
# TinyEngine library's PlatformIO hook.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=$(realpath "${1:-../shared/models/vww.tflite}")
BOARD=${BOARD:-qemu_cortex_m7}
PROJECT=build/demo
rm -rf "$PROJECT"
.venv/bin/tinyengine offline-setup
.venv/bin/tinyengine new "$PROJECT" --board "$BOARD" --model "$MODEL"
cd "$PROJECT"
../../.venv/bin/pio run -t exec
