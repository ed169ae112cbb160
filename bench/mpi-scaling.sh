#!/usr/bin/env bash
# Data-parallel step time on one machine: 1 rank x T threads against N ranks x T/N threads at the
# same global batch, for resnet20 (28x28 Fashion-MNIST) and ResNet-50 (224x224), with the time each
# rank waits for the gradient all-reduce after backward and how many buckets started during it.
# Run on a quiet machine after `make build`:  bench/mpi-scaling.sh [THREADS=2] [RANKS=2]
# Prints one line per case: seconds per optimizer step of the second epoch (history.csv's `time`
# over its steps; the first epoch pays for warm-up) and the trainer's all-reduce line.
set -eu
# RESNET and PER_CLASS (images per class, 64) override the binary and the data size for a smoke test.
THREADS=${1:-2}; RANKS=${2:-2}; PER_CLASS=${PER_CLASS:-64}
BIN=$(realpath "${RESNET:-.build/release/resnet}")
WORK=$(mktemp -d /tmp/resnet-mpi-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
"$BIN" data export --out "$WORK/fm" --per-class "$PER_CLASS" >/dev/null   # 10 classes: 640 training images by default
rm -rf "$WORK/fm/validation" "$WORK/fm/test"                     # train only: no evaluation between epochs

run() {  # run NAME RANKS MODEL SIZE GLOBAL_BATCH
    local name=$1 ranks=$2 model=$3 size=$4 batch=$5 out="$WORK/$1"
    local args=(train --data "$WORK/fm" --model "$model" --image-size "$size" --channels 3
                --batch-size $((batch / ranks)) --threads $((THREADS / ranks)) --workers 1 --epochs 2 --out "$out")
    if [ "$ranks" = 1 ]; then "$BIN" "${args[@]}" >"$out.log" 2>&1; else "${MPIRUN[@]}" -np "$ranks" "$BIN" "${args[@]}" >"$out.log" 2>&1; fi
    local images=$((10 * PER_CLASS))
    local steps=$(( ((images + ranks - 1) / ranks + batch / ranks - 1) / (batch / ranks) ))
    local t; t=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "time") c = i } NR == 3 { print $c }' "$out/history.csv")
    printf '%-12s %d rank(s) x %d thread(s), global batch %d: %s s/step  %s\n' "$name" "$ranks" $((THREADS / ranks)) "$batch" \
        "$(awk -v t="$t" -v n="$steps" 'BEGIN { printf "%.3f", t / n }')" "$(grep 'all-reduce' "$out.log" | tail -1 | sed 's/^ *//')"
}
run resnet20-1 1 resnet20 28 64
run resnet20-n "$RANKS" resnet20 28 64
run resnet50-1 1 resnet50 224 16
run resnet50-n "$RANKS" resnet50 224 16
