#!/usr/bin/env bash
# Create .venv (if missing) and install defect_nbs with its dev tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
# optional extras: Ray (batch inspection beyond one machine) and TensorBoard; their tests run when they install,
# and skip cleanly when they do not (no registry, unsupported platform)
if [ "${DEFECT_NBS_EXTRAS:-1}" = "1" ]; then
  .venv/bin/python -m pip install -q -e ".[scale,tensorboard]" || echo "extras [scale,tensorboard] not installed: their checks skip"
fi
