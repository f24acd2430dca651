#!/usr/bin/env bash
# Train the bundled compact models with `mirnet train` (run from the repository root, ../shared beside it).
# Each run's wall time is appended to runs/bundled/times.txt; the exported models are copied into
# weights/bundled/<name>/ as fp16 by `python -m mirnet_cli.train.bundle` afterwards.
set -euo pipefail
mkdir -p runs/bundled
for recipe in "$@"; do
  name=$(basename "$recipe" .yaml)
  start=$(date +%s)
  mirnet train --config "$recipe" --resume 2>/dev/null || mirnet train --config "$recipe"
  echo "$name $(( $(date +%s) - start )) s  $(date -u +%FT%TZ)" >> runs/bundled/times.txt
done
