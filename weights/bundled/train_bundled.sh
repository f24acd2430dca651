#!/usr/bin/env bash
# Train the bundled compact models with `mirnet train` (run from the repository root, ../shared beside it).
# Each run's wall time is appended to runs/bundled/times.txt; weights/bundled/make_bundle.py then copies the
# exported models into weights/bundled/<name>/ as fp16 and registers them with their provenance.
set -euo pipefail
mkdir -p runs/bundled
for recipe in "$@"; do
  name=$(basename "$recipe" .yaml)
  start=$(date +%s)
  mirnet train --config "$recipe" --resume 2>/dev/null || mirnet train --config "$recipe"
  echo "$name $(( $(date +%s) - start )) s  $(date -u +%FT%TZ)" >> runs/bundled/times.txt
done
