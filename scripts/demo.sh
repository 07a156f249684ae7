#!/usr/bin/env bash
# Set up (if needed) and run the main job end to end on the built-in dataset (or on DATA=<folder>): index and analysis,
# a classifier trained and evaluated, the test images routed to good / bad / review, ONNX + INT8 export, benchmark.
# Writes everything and report.md to runs/demo/ (or OUT=<folder>); extra arguments go to defect_nbs_job (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source .venv/bin/activate
export MPLBACKEND=Agg
defect_nbs_job ${DATA:+--root "$DATA"} --out "${OUT:-runs/demo}" "$@"
