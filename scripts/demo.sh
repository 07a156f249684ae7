#!/usr/bin/env bash
# Set up (if needed) and run the main job end to end on the built-in dataset (or on DATA=<folder>).
# Writes its report to runs/demo/ (or OUT=<folder>).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source .venv/bin/activate
export MPLBACKEND=Agg
defect_nbs_analyze ${DATA:+--root "$DATA"} --out "${OUT:-runs/demo}"
