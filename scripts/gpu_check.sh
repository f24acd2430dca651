#!/usr/bin/env bash
# GPU check, one command on a CUDA machine (under 5 minutes on one H100/H200-class GPU):
#   bash scripts/gpu_check.sh [OUT.json]           the CUDA tests, then speed and fp16 figures as JSON
#   bash scripts/gpu_check.sh --dry-run [OUT.json] the same steps on the CPU with a small model (tests the script)
# Needs the project installed (pip install -e ".[dev]" with a CUDA build of torch).
set -euo pipefail
cd "$(dirname "$0")/.."
dry=()
if [[ "${1:-}" == "--dry-run" ]]; then dry=(--dry-run); shift; fi
out="${1:-gpu_check.json}"
if [[ ${#dry[@]} -eq 0 ]]; then
  # the tests that need CUDA (fp16 autocast, the guard, memory planning from the device, OOM back-off)
  python -m pytest -q -m gpu tests
else
  python -m pytest -q -m gpu --collect-only tests >/dev/null  # the GPU tests exist and import
fi
python scripts/gpu_check.py --out "$out" "${dry[@]}"
