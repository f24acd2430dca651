#!/usr/bin/env bash
# Reproduce the README's tables for the bundled models (run from the repository root with ../shared beside it).
# Every figure is from `mirnet benchmark` on images the models never saw in training; JSON goes to runs/eval/.
#   bash weights/bundled/evaluate.sh                 # everything (about 30 minutes on 2 CPU cores)
#   bash weights/bundled/evaluate.sh denoise sr      # only these tasks: denoise lowlight contrast sr oldphoto night
# `--baseline nlmeans` searches the non-local means strength h on each test set and reports the best.
# The night-photo check needs the DICM/LIME photos of weights/bundled/prepare_data.py in $MIRNET_TRAIN_DATA.
# A candidate before it is bundled (one task at a time), without the classical rows:
#   CANDIDATE=runs/campaign/lowlight/checkpoints/best.pt BASELINES=0 bash weights/bundled/evaluate.sh lowlight night
set -euo pipefail
D=${SHARED_DATA:-../shared/data}
OUT=${EVAL_OUT:-runs/eval}
TASKS=${*:-denoise lowlight contrast sr oldphoto night}
mkdir -p "$OUT"
KODAK_HELD_BACK=kodim19,kodim20,kodim21,kodim22,kodim23,kodim24
LOL_HELD_BACK=665,669,748,778,780
bench() { local tag=$1; shift; echo "== $tag"; mirnet benchmark --device cpu --quiet --json "$OUT/$tag.json" "$@" < /dev/null; }
want() { [[ " $TASKS " == *" $1 "* ]]; }
who_tag() { [[ $1 == --weights* ]] && echo candidate || echo "$1" | awk '{print $2}'; }
# The scored networks, one per line: the bundled model (or $CANDIDATE) and, unless BASELINES=0, the classical row.
whos() {
  if [[ -n ${CANDIDATE:-} ]]; then echo "--weights $CANDIDATE"; else echo "--model $1"; fi
  if [[ ${BASELINES:-1} != 0 ]]; then echo "--baseline $2"; fi
}

if want denoise; then
  while read -r who; do
    tag=$(who_tag "$who")
    bench "denoise-kodak-$tag" --dataset synthetic --data-dir "$D/kodak24" --degrade denoise --seed 0 --names "$KODAK_HELD_BACK" $who
    bench "denoise-sidd-$tag" --dataset sidd --data-dir "$D/sidd/crops" $who
    bench "denoise-siddblock-$tag" --dataset sidd --data-dir "$D/sidd/val_block" $who
  done < <(whos mirnet_v2-nf16-denoise nlmeans)
fi
if want lowlight; then
  while read -r who; do
    bench "lowlight-lol-$(who_tag "$who")" --dataset lol --data-dir "$D/lol" --names "$LOL_HELD_BACK" $who
  done < <(whos mirnet_v2-nf16-lowlight clahe)
fi
if want contrast; then
  while read -r who; do
    bench "contrast-fivek-$(who_tag "$who")" --dataset fivek --data-dir "$D/fivek" $who
  done < <(whos mirnet_v2-nf16-contrast autolevels)
fi
if want sr; then
  python weights/bundled/sr_testset.py "$OUT/sr-testset" --data "$D"
  for s in 2 3 4; do
    while read -r who; do
      bench "sr-x$s-$(who_tag "$who")" --dataset realsr --data-dir "$OUT/sr-testset" --scale "$s" $who
    done < <(whos mirnet_v2-nf16-sr bicubic)
  done
fi
if want oldphoto; then
  while read -r who; do
    bench "oldphoto-kodak-$(who_tag "$who")" --dataset synthetic --data-dir "$D/kodak24" --degrade oldphoto --seed 0 --names "$KODAK_HELD_BACK" $who
    # Issue 19's test: a damage no training mode makes (the input's own PSNR is printed beside).
    bench "oldphoto-unseen-$(who_tag "$who")" --dataset synthetic --data-dir "$D/kodak24" --degrade oldphoto-unseen --seed 0 --names "$KODAK_HELD_BACK" $who
  done < <(whos mirnet_v2-nf16-oldphoto nlmeans)
fi
if want night; then
  N=${MIRNET_TRAIN_DATA:-../train-data}/lowlight_eval
  T=${MIRNET_TRAIN_DATA:-../train-data}/teachers/iat_lol_v1.pth
  python weights/bundled/night_check.py "$N/DICM" "$N/LIME" ${CANDIDATE:+--model "$CANDIDATE"} --json "$OUT/night.json" --sheet "$OUT/night_sheet.jpg" \
    $( [[ -f "$T" ]] && echo --teacher "$T" )
fi
