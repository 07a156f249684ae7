#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: every notebook (nbdev_test) and tests/ (pytest).
# Extra arguments go to nbdev_test, e.g. `scripts/test.sh --flags slow` for the heavy cells too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source .venv/bin/activate
export DEFECT_NBS_HOME=${DEFECT_NBS_HOME:-$PWD/.cache/defect_nbs} MPLBACKEND=Agg
mkdir -p "$DEFECT_NBS_HOME"; export MPLCONFIGDIR=$DEFECT_NBS_HOME/matplotlib
# one torch/OpenMP thread per notebook process: two notebooks run at once on two cores; more threads than cores
# makes OpenMP spin and slows training several-fold
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
nbdev_test --n_workers ${NBDEV_WORKERS:-2} --timing "$@"
python -m pytest -q tests
