#!/usr/bin/env bash
# Train the bundled compact models with `mirnet train` (run from the repository root, ../shared beside it).
# Each run's wall time is appended to runs/bundled/times.txt; weights/bundled/make_bundle.py then copies the
# exported models into weights/bundled/<name>/ as fp16 and registers them with their provenance.
# Training data outside the repository: $MIRNET_TRAIN_DATA (default ../train-data), laid out by
#   python weights/bundled/prepare_data.py --mirrors DIR --out "$MIRNET_TRAIN_DATA"
# Recipes run in the order given (sr-stage2.yaml starts from the result of sr.yaml):
#   bash weights/bundled/train_bundled.sh weights/bundled/recipes/{denoise,lowlight,contrast,sr,sr-stage2,oldphoto}.yaml
set -euo pipefail
export MIRNET_TRAIN_DATA=${MIRNET_TRAIN_DATA:-../train-data}
mkdir -p runs/bundled
for recipe in "$@"; do
  name=$(basename "$recipe" .yaml)
  start=$(date +%s)
  mirnet train --config "$recipe" --resume 2>/dev/null || mirnet train --config "$recipe"
  echo "$name $(( $(date +%s) - start )) s  $(date -u +%FT%TZ)" >> runs/bundled/times.txt
done
