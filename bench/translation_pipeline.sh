#!/usr/bin/env bash
# The whole translation benchmark (issue 5), from nothing to docs/experiments/. From the
# repository root:
#
#   bash bench/translation_pipeline.sh ../shared/data                      # CPU: many hours, resumable
#   SHARDS=8 BASE_MINUTES=4 META_STEPS=600 bash bench/translation_pipeline.sh DATA   # one GPU
#
# On 2 CPU cores a base step of 128 pairs takes about 7 s; smaller, more frequent steps make
# better use of a CPU budget: BASE_FLAGS="--batch-size 64 --warmup-steps 300" (about 3 s a step).
#
# 1. the Marian base on the split's base books (recipes/translation/build_base.py, BASE_MINUTES
#    of training in total);
# 2. the meta-learned (fomaml) and the multilingual (joint) adapters on the meta books with the
#    same compute (recipes/configs/translation_{fomaml,joint}.yaml; joint gets 2 x META_STEPS);
# 3. bench/translation.py in SHARDS parallel processes, then its summary, table and plot.
#
# Every stage resumes where it stopped: run the same line again after an interruption. A
# finished stage is skipped (delete its folder under WORK to redo it). With SHARDS > 1 the two
# adapters also train side by side (a GPU has room; two cores do not). SPLIT names the Bible
# split; BASE_FLAGS, META_FLAGS (key=value overrides) and BENCH_FLAGS add to each stage's command.
set -euo pipefail
[ -f recipes/configs/translation_fomaml.yaml ] || { echo "run this from the repository root" >&2; exit 2; }
DATA=${1:-../shared/data}
WORK=${WORK:-runs}
SPLIT=${SPLIT:-recipes/translation/configs/bible_split.yaml}
BASE_MINUTES=${BASE_MINUTES:-120}
META_STEPS=${META_STEPS:-1000}
SHARDS=${SHARDS:-1}
PYTHON=${PYTHON:-python}
BASE=$WORK/base-marian
export PYTHONUNBUFFERED=1

continuing() { [ -d "$1/checkpoints" ] && echo --resume || true; }

if [ ! -f "$BASE/build_report.json" ]; then
    # shellcheck disable=SC2046,SC2086  # word splitting of the optional flags is wanted
    "$PYTHON" recipes/translation/build_base.py --variant marian --output "$BASE" --data "$DATA" --split "$SPLIT" \
        --batch-size 128 --max-minutes "$BASE_MINUTES" --max-steps 1000000 --eval-every 1000 \
        --checkpoint-every 500 $(continuing "$BASE") ${BASE_FLAGS:-}
fi

adapter() {  # algorithm, steps
    local out=$WORK/translation-$1
    [ -f "$out/training_history.json" ] && return 0
    # shellcheck disable=SC2046,SC2086
    "$PYTHON" -m fewshot_nlp meta-train --config "recipes/configs/translation_$1.yaml" $(continuing "$out") \
        data="$DATA" split="$SPLIT" base_model="$BASE" output_dir="$out" steps="$2" ${META_FLAGS:-}
}
if [ "$SHARDS" -gt 1 ]; then
    adapter fomaml "$META_STEPS" &
    adapter joint $((2 * META_STEPS)) &
    wait -n
    wait -n
else
    adapter fomaml "$META_STEPS"
    adapter joint $((2 * META_STEPS))
fi

# shellcheck disable=SC2206
bench=("$PYTHON" bench/translation.py --data "$DATA" --split "$SPLIT" --base "$BASE" --meta "$WORK/translation-fomaml"
    --joint "$WORK/translation-joint" --work "$WORK/translation-bench" ${BENCH_FLAGS:-})
if [ "$SHARDS" -gt 1 ]; then
    for i in $(seq 0 $((SHARDS - 1))); do
        "${bench[@]}" --shard "$i/$SHARDS" > "$WORK/translation-bench-$i.log" 2>&1 &
    done
    for _ in $(seq "$SHARDS"); do wait -n || { tail -n 20 "$WORK"/translation-bench-*.log >&2; exit 1; }; done
fi
"${bench[@]}"
