#!/usr/bin/env bash
# Anchor-weight sweep (issue 4): does holding the adapted embeddings near the frozen encoder's
# (anchor_weight) let a meta-trained adapter help on an intent set it never saw?
#
#   bash bench/anchor_sweep.sh ../shared/data                  # one run at a time (CPU: hours)
#   PARALLEL=8 bash bench/anchor_sweep.sh ../shared/data       # on a GPU: runs share the card
#   OVERRIDES="steps=2 eval_episodes=2" EVAL_ARGS="--episodes 5 --episodes-all 1" ...   # a smoke run
#   TRAIN=0 bash bench/anchor_sweep.sh ../shared/data          # only evaluate the finished runs
#
# The weight is chosen in one direction and tested in the other, so the unseen set never picks it:
#   selection: trained on BANKING77 alone, judged on CLINC150 (never trained on);
#   test:      trained on CLINC150 alone, judged on BANKING77 (never trained on).
# Each run uses the CLINC150-alone recipe of its algorithm with tasks, anchor_weight and output_dir
# overridden. Finished runs are skipped and unfinished ones resumed. Every run is evaluated and
# reported: docs/results/<RUNS name>_{banking,clinc}.json (anchor_sweep_banking.json, ...)
# and their sections in docs/experiments/.
set -uo pipefail
DATA=${1:-../shared/data}
RUNS=${RUNS:-runs/anchor-sweep}
WEIGHTS=${WEIGHTS:-0 0.3 1 3}
PARALLEL=${PARALLEL:-1}
mkdir -p "$RUNS"

train() {  # corpus algorithm weight
  local out="$RUNS/$1-$2-w$3"
  [ -f "$out/training_history.json" ] && return 0
  python -m fewshot_nlp meta-train --config "recipes/configs/intents_$2_clinc_only.yaml" --resume \
    data="$DATA" "tasks=[$1]" anchor_weight="$3" output_dir="$out" ${OVERRIDES:-} >"$out.log" 2>&1 ||
    echo "failed: $out (see $out.log)"
}
export -f train
export DATA RUNS OVERRIDES

queue() {
  for corpus in banking77 clinc150; do
    for algorithm in protonet fomaml; do
      for weight in $WEIGHTS; do echo "$corpus $algorithm $weight"; done
    done
  done
}
if [ "${TRAIN:-1}" != 0 ]; then
  queue | xargs -P "$PARALLEL" -L 1 bash -c 'train "$@"' _
fi

for corpus in banking77 clinc150; do
  section="$(basename "$RUNS" | tr - _)_${corpus%%[0-9]*}"  # runs/anchor-sweep -> anchor_sweep_banking
  models=()
  for run in "$RUNS/$corpus"-*-w*/; do
    [ -f "$run/training_history.json" ] && models+=(--model "${run%/}")
  done
  [ ${#models[@]} -gt 0 ] &&
    python bench/meta.py --data "$DATA" --adapt-steps 0 --section "$section" \
      ${EVAL_ARGS:-} "${models[@]}"
done
