#!/usr/bin/env bash
# Data-parallel training under Open MPI's mpirun, on this machine only (loopback, shared memory):
# a rank killed with -9 stops the whole run within a bounded time with a message naming the dead
# rank, the last checkpoint stays readable, and the run resumes from it with 2 ranks (exact) and
# with 1 (saying the data order changes); Ctrl-C to mpirun stops every rank after the same step.
# The numerical checks (2 ranks x 8 with --sync-bn equal 1 x 16; bit-identical repeats; exact
# resume) are XCTests: DistributedTrainingTests. Tests/CLI/mpi-netns.sh crosses a real network stack.
#
# Usage: Tests/CLI/mpi.sh [path/to/resnet]   (default: .build/debug/resnet)
set -u
BIN=$(realpath "${1:-.build/debug/resnet}")
[ -x "$BIN" ] || { echo "mpi: no resnet binary at $BIN (build first)"; exit 2; }
command -v mpirun >/dev/null || { echo "mpi: mpirun not found (install openmpi-bin: make deps)"; exit 2; }
WORK=$(mktemp -d /tmp/resnet-mpi.XXXXXX)
cleanup() { [ -n "${MPIRUN_PID:-}" ] && kill -9 "$MPIRUN_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK" || exit 2
LIMIT=${MPI_TEST_LIMIT:-120}   # seconds a run may take before the test calls it a hang
# Root allowed (CI containers), more ranks than cores, shared memory between ranks, lo for the launcher.
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none
        --mca oob_tcp_if_include lo)
passed=0; failed=0
check() {  # check NAME OK(0/1) WHY
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1: $3"; fi
}

for c in a b; do
    mkdir -p "D/train/$c"
    for i in $(seq 1 40); do { printf 'P5\n8 8\n255\n'; head -c 64 /dev/urandom; } >"D/train/$c/$i.pgm"; done
done
TRAIN=(train --data D --image-size 8 --batch-size 4 --workers 1 --threads 1)

# --- A 2-rank run, one rank killed with -9 after its first checkpoint ---
"${MPIRUN[@]}" -np 2 "$BIN" "${TRAIN[@]}" --epochs 1000 --out K >K.log 2>&1 &
MPIRUN_PID=$!
for _ in $(seq 1 $((LIMIT * 10))); do [ -f K/checkpoint.json ] && break; sleep 0.1; done
[ -f K/checkpoint.json ] || { check "2-rank run commits a checkpoint" 1 "no K/checkpoint.json after ${LIMIT}s: $(tail -3 K.log)"; exit 1; }
sleep 1
victim=$(pgrep -P "$MPIRUN_PID" -f "$BIN" | tail -1)
[ -n "$victim" ] || { check "find a rank to kill" 1 "no rank process under mpirun $MPIRUN_PID"; exit 1; }
kill -9 "$victim"
killed_at=$(date +%s)
for _ in $(seq 1 $((LIMIT * 10))); do kill -0 "$MPIRUN_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MPIRUN_PID" 2>/dev/null; then
    check "a killed rank stops the run" 1 "mpirun still running ${LIMIT}s after kill -9 of rank pid $victim (hang)"
    kill -9 "$MPIRUN_PID"; exit 1
fi
wait "$MPIRUN_PID"; rc=$?; MPIRUN_PID=""
took=$(( $(date +%s) - killed_at ))
[ "$rc" != 0 ] && check "a killed rank stops the run (exit $rc after ${took}s)" 0 "" \
    || check "a killed rank stops the run" 1 "mpirun exited 0"
grep -qiE "signal 9|killed" K.log && check "the message names the killed rank" 0 "" \
    || check "the message names the killed rank" 1 "$(tail -5 K.log)"
pgrep -f "$BIN.*--out K" >/dev/null && check "no rank left behind" 1 "$(pgrep -af "$BIN.*--out K")" || check "no rank left behind" 0 ""

# Epochs completed: the largest epoch number in checkpoint.json (its history rows carry one each).
epoch=$(grep -o '"epoch" : [0-9]*' K/checkpoint.json | grep -o '[0-9]*$' | sort -n | tail -1)
timeout -k 5 "$LIMIT" "$BIN" evaluate --checkpoint K --split train >eval.log 2>&1 && grep -q acc eval.log \
    && check "the last checkpoint (epoch $epoch) evaluates" 0 "" || check "the last checkpoint evaluates" 1 "$(tail -3 eval.log)"

# --- Resume: the same world size, then another one (allowed, with a note) ---
timeout -k 5 "$LIMIT" "${MPIRUN[@]}" -np 2 "$BIN" train --resume K --epochs $((epoch + 1)) --threads 1 >R2.log 2>&1 \
    && grep -q "resuming" R2.log && ! grep -q "data order" R2.log \
    && check "resume with 2 ranks" 0 "" || check "resume with 2 ranks" 1 "$(tail -5 R2.log)"
timeout -k 5 "$LIMIT" "$BIN" train --resume K --epochs $((epoch + 2)) --threads 1 >R1.log 2>&1 \
    && grep -q "trained by 2 process(es) and resumes with 1" R1.log \
    && check "resume with 1 process says the data order changes" 0 "" || check "resume with 1 process" 1 "$(tail -5 R1.log)"

# --- Ctrl-C to mpirun: it sends SIGTERM to every rank, and all stop after the same step ---
epoch=$(grep -o '"epoch" : [0-9]*' K/checkpoint.json | grep -o '[0-9]*$' | sort -n | tail -1)
"${MPIRUN[@]}" -np 2 "$BIN" train --resume K --epochs $((epoch + 100)) --threads 1 >C.log 2>&1 &
MPIRUN_PID=$!
for _ in $(seq 1 $((LIMIT * 10))); do grep -q "Epoch $((epoch + 1))/" C.log 2>/dev/null && break; sleep 0.1; done
sleep 2
kill -INT "$MPIRUN_PID"
for _ in $(seq 1 $((LIMIT * 10))); do kill -0 "$MPIRUN_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MPIRUN_PID" 2>/dev/null; then check "Ctrl-C stops a 2-rank run" 1 "still running ${LIMIT}s after SIGINT"; kill -9 "$MPIRUN_PID"
else
    grep -q "stopped by SIGTERM in epoch" C.log && [ "$(grep -c 'continue with' C.log)" = 1 ] \
        && check "Ctrl-C stops both ranks after a step, rank 0 says how to resume" 0 "" \
        || check "Ctrl-C stops both ranks after a step" 1 "$(tail -5 C.log)"
fi
wait "$MPIRUN_PID" 2>/dev/null; MPIRUN_PID=""
timeout -k 5 "$LIMIT" "$BIN" evaluate --checkpoint K --split train >eval.log 2>&1 && grep -q acc eval.log \
    && check "the run evaluates after Ctrl-C" 0 "" || check "the run evaluates after Ctrl-C" 1 "$(tail -3 eval.log)"

# --- Options that make no sense with one rank, or that a resume cannot change ---
rm -f bad.log
timeout -k 5 "$LIMIT" "${MPIRUN[@]}" -np 1 "$BIN" "${TRAIN[@]}" --epochs 1 --out S1 --sync-bn >bad.log 2>&1; rc=$?
[ $rc != 0 ] && grep -q "not one of several MPI ranks" bad.log && check "refused: --sync-bn with one rank" 0 "" \
    || check "refused: --sync-bn with one rank" 1 "exit $rc: $(tail -3 bad.log)"
rm -f bad.log
timeout -k 5 "$LIMIT" "${MPIRUN[@]}" -np 2 "$BIN" train --resume K --epochs $((epoch + 3)) --sync-bn >bad.log 2>&1; rc=$?
[ $rc != 0 ] && grep -q "only --epochs may change" bad.log && check "refused: --resume with --sync-bn" 0 "" \
    || check "refused: --resume with --sync-bn" 1 "exit $rc: $(tail -3 bad.log)"

echo "mpi: $passed passed, $failed failed"
[ "$failed" = 0 ]
