#!/usr/bin/env bash
# Load test for `resnet serve`: throughput (images/s) and p50/p99 latency at several client
# concurrencies with wrk (Debian's `wrk`), beside the two figures it should be read against:
# one `resnet predict` process per image, and `resnet benchmark --mode forward` (the engine's
# batched forward rate, no HTTP, no decoding).
#
# Usage: bench/serve-load.sh [MODEL] [IMAGE_SIZE] [SECONDS] [CONCURRENCIES] [MAX_BATCH]
#   defaults: resnet50 224 20 "1 8 32" 32    (minutes on 2 cores: run it on a quiet machine)
#   smoke test: bench/serve-load.sh resnet20 32 3 "1 8" 8
# Environment: RESNET (default .build/release/resnet), PORT (default 18080), DELAY_MS (default 5).
# The model is a run of MODEL trained for one step on 8 random images of IMAGE_SIZE (2 classes):
# what is timed is the network, not what it learned; a 2-class head differs from a 1000-class one
# by 0.05% of ResNet-50's multiply-adds.
set -eu
MODEL=${1:-resnet50}; SIZE=${2:-224}; SECONDS_EACH=${3:-20}; CONCURRENCY=${4:-"1 8 32"}; MAX_BATCH=${5:-32}
RESNET=$(realpath "${RESNET:-.build/release/resnet}")
PORT=${PORT:-18080}; DELAY_MS=${DELAY_MS:-5}
command -v wrk >/dev/null || { echo "serve-load: needs wrk (apt-get install wrk)"; exit 2; }
[ -x "$RESNET" ] || { echo "serve-load: no resnet binary at $RESNET (swift build -c release)"; exit 2; }
WORK=$(mktemp -d /tmp/resnet-serve-load.XXXXXX)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# Fixture: 2 classes x 4 random RGB PPMs, one epoch (one step of batch 8).
for c in a b; do
    mkdir -p "$WORK/data/$c"
    for i in 1 2 3 4; do { printf 'P6\n%d %d\n255\n' "$SIZE" "$SIZE"; head -c $((SIZE * SIZE * 3)) /dev/urandom; } >"$WORK/data/$c/$i.ppm"; done
done
"$RESNET" train --model "$MODEL" --data "$WORK/data" --image-size "$SIZE" --batch-size 8 --epochs 1 --split 1:0:0 \
    --workers 1 --out "$WORK/run" >/dev/null
IMAGE="$WORK/data/a/1.ppm"

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
local f = assert(io.open("$IMAGE", "rb"))
wrk.body = f:read("*all")
f:close()
LUA

echo "== $MODEL at ${SIZE}x${SIZE}, ${SECONDS_EACH}s per concurrency, --max-batch $MAX_BATCH --max-delay-ms $DELAY_MS =="
"$RESNET" serve --checkpoint "$WORK/run" --port "$PORT" --max-batch "$MAX_BATCH" --max-delay-ms "$DELAY_MS" \
    --queue-limit 4096 >"$WORK/serve.out" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do grep -q "serving" "$WORK/serve.out" && break; sleep 0.1; done
grep -q "serving" "$WORK/serve.out" || { echo "serve-load: server did not start: $(cat "$WORK/serve.out")"; exit 1; }
URL="http://127.0.0.1:$PORT/v1/predict?top_k=1"
curl -sf --data-binary @"$IMAGE" "$URL" >/dev/null   # first forward builds the primitives

printf '%-12s %12s %10s %10s %10s\n' concurrency "images/s" p50 p99 non-2xx
for c in $CONCURRENCY; do
    threads=$(( c < 2 ? c : 2 ))
    wrk -t "$threads" -c "$c" -d "${SECONDS_EACH}s" --timeout 60s --latency -s "$WORK/post.lua" "$URL" >"$WORK/wrk.$c" 2>&1
    rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.$c")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.$c")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.$c")
    bad=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.$c"); bad=${bad:-0}
    printf '%-12s %12s %10s %10s %10s\n' "$c" "$rps" "$p50" "$p99" "$bad"
done
echo "batch sizes seen (histogram count and sum):"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^resnet_serve_batch_size_images_(count|sum)'
kill -TERM "$SERVER"; wait "$SERVER"; SERVER=""

# One `resnet predict` process per image: load the run, decode, one forward, exit.
runs=5
start=$(date +%s.%N)
for _ in $(seq 1 $runs); do "$RESNET" predict --checkpoint "$WORK/run" --top-k 1 "$IMAGE" >/dev/null; done
end=$(date +%s.%N)
awk -v n=$runs -v s="$start" -v e="$end" 'BEGIN { printf "one predict process per image: %.2f images/s (%.3f s each)\n", n / (e - s), (e - s) / n }'

# The engine's batched forward rate at the server's largest batch.
"$RESNET" benchmark --model "$MODEL" --mode forward --batch-size "$MAX_BATCH" --image-size "$SIZE" \
    --warmup 2 --steps $(( SECONDS_EACH / 4 + 2 )) | tail -n 3
