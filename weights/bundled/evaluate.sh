#!/usr/bin/env bash
# Reproduce the README's tables for the bundled models (run from the repository root with ../shared beside it).
# Every figure is from `mirnet benchmark` on images the models never saw in training; JSON goes to runs/eval/.
#   bash weights/bundled/evaluate.sh                 # everything (about 30 minutes on 2 CPU cores)
#   bash weights/bundled/evaluate.sh denoise sr      # only these tasks: denoise lowlight contrast sr oldphoto night
# `--baseline nlmeans` searches the non-local means strength h on each test set and reports the best.
# The night-photo check needs the DICM/LIME photos of weights/bundled/prepare_data.py in $MIRNET_TRAIN_DATA.
set -euo pipefail
D=${SHARED_DATA:-../shared/data}
OUT=${EVAL_OUT:-runs/eval}
TASKS=${*:-denoise lowlight contrast sr oldphoto night}
mkdir -p "$OUT"
KODAK_HELD_BACK=kodim19,kodim20,kodim21,kodim22,kodim23,kodim24
LOL_HELD_BACK=665,669,748,778,780
bench() { local tag=$1; shift; echo "== $tag"; mirnet benchmark --device cpu --quiet --json "$OUT/$tag.json" "$@"; }
want() { [[ " $TASKS " == *" $1 "* ]]; }
who_tag() { echo "$1" | awk '{print $2}'; }

if want denoise; then
  for who in "--model mirnet_v2-nf16-denoise" "--baseline nlmeans"; do
    tag=$(who_tag "$who")
    bench "denoise-kodak-$tag" --dataset synthetic --data-dir "$D/kodak24" --degrade denoise --seed 0 --names "$KODAK_HELD_BACK" $who
    bench "denoise-sidd-$tag" --dataset sidd --data-dir "$D/sidd/crops" $who
    bench "denoise-siddblock-$tag" --dataset sidd --data-dir "$D/sidd/val_block" $who
  done
fi
if want lowlight; then
  for who in "--model mirnet_v2-nf16-lowlight" "--baseline clahe"; do
    bench "lowlight-lol-$(who_tag "$who")" --dataset lol --data-dir "$D/lol" --names "$LOL_HELD_BACK" $who
  done
fi
if want contrast; then
  for who in "--model mirnet_v2-nf16-contrast" "--baseline autolevels"; do
    bench "contrast-fivek-$(who_tag "$who")" --dataset fivek --data-dir "$D/fivek" $who
  done
fi
if want sr; then
  python weights/bundled/sr_testset.py "$OUT/sr-testset" --data "$D"
  for s in 2 3 4; do
    for who in "--model mirnet_v2-nf16-sr" "--baseline bicubic"; do
      bench "sr-x$s-$(who_tag "$who")" --dataset realsr --data-dir "$OUT/sr-testset" --scale "$s" $who
    done
  done
fi
if want oldphoto; then
  for who in "--model mirnet_v2-nf16-oldphoto" "--baseline nlmeans"; do
    bench "oldphoto-kodak-$(who_tag "$who")" --dataset synthetic --data-dir "$D/kodak24" --degrade oldphoto --seed 0 --names "$KODAK_HELD_BACK" $who
  done
fi
if want night; then
  N=${MIRNET_TRAIN_DATA:-../train-data}/lowlight_eval
  T=${MIRNET_TRAIN_DATA:-../train-data}/teachers/iat_lol_v1.pth
  python weights/bundled/night_check.py "$N/DICM" "$N/LIME" --json "$OUT/night.json" --sheet "$OUT/night_sheet.jpg" \
    $( [[ -f "$T" ]] && echo --teacher "$T" )
fi
