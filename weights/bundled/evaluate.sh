#!/usr/bin/env bash
# Reproduce the README's table for the bundled models (run from the repository root with ../shared beside it).
# Every figure is from `mirnet benchmark` on images the models never saw in training; JSON goes to runs/eval/.
set -euo pipefail
D=${SHARED_DATA:-../shared/data}
OUT=${EVAL_OUT:-runs/eval}
mkdir -p "$OUT"
KODAK_HELD_BACK=kodim19,kodim20,kodim21,kodim22,kodim23,kodim24
LOL_HELD_BACK=665,669,748,778,780
bench() { local tag=$1; shift; echo "== $tag"; mirnet benchmark --device cpu --quiet --json "$OUT/$tag.json" "$@"; }

for who in "--model mirnet_v2-nf16-denoise" "--baseline nlmeans"; do
  tag=$(echo "$who" | awk '{print $2}')
  bench "denoise-kodak-$tag" --dataset synthetic --data-dir "$D/kodak24" --degrade denoise --seed 0 --names "$KODAK_HELD_BACK" $who
  bench "denoise-sidd-$tag" --dataset sidd --data-dir "$D/sidd/crops" $who
  bench "denoise-siddblock-$tag" --dataset sidd --data-dir "$D/sidd/val_block" $who
done
for who in "--model mirnet_v2-nf16-lowlight" "--baseline clahe-gamma"; do
  tag=$(echo "$who" | awk '{print $2}')
  bench "lowlight-lol-$tag" --dataset lol --data-dir "$D/lol" --names "$LOL_HELD_BACK" $who
done
for who in "--model mirnet_v2-nf16-oldphoto" "--baseline nlmeans"; do
  tag=$(echo "$who" | awk '{print $2}')
  bench "oldphoto-kodak-$tag" --dataset synthetic --data-dir "$D/kodak24" --degrade oldphoto --seed 0 --names "$KODAK_HELD_BACK" $who
done
