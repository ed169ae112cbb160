#!/usr/bin/env bash
# A 2-rank `resnet train` across a real network stack: two network namespaces joined by a veth pair
# stand for two hosts (10.77.N.1 and 10.77.N.2), mpirun runs in the first and starts the second rank
# through `ip netns exec` as its remote launcher (plm_rsh_agent), and the ranks talk TCP only
# (no shared memory). Checks that the run finishes, that its gradients crossed the veth link, and
# that its weights are bit-identical to the same run over loopback shared memory.
# Needs root and `ip netns`; skips (exit 0, saying why) where the machine does not allow them.
#
# Usage: Tests/CLI/mpi-netns.sh [path/to/resnet]   (default: .build/debug/resnet)
set -u
BIN=$(realpath "${1:-.build/debug/resnet}")
[ -x "$BIN" ] || { echo "mpi-netns: no resnet binary at $BIN (build first)"; exit 2; }
LIMIT=${MPI_TEST_LIMIT:-120}
SUBNET=$(( $$ % 200 + 20 ))
NS_A=resnet-a-$$ NS_B=resnet-b-$$ IP_A=10.77.$SUBNET.1 IP_B=10.77.$SUBNET.2
WORK=$(mktemp -d /tmp/resnet-netns.XXXXXX)
cleanup() { ip netns del "$NS_A" 2>/dev/null; ip netns del "$NS_B" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add "$NS_A" 2>/dev/null; then
    echo "mpi-netns: skipped (needs root and ip netns to build two network namespaces)"; exit 0
fi
ip netns add "$NS_B"
ip link add "va$$" type veth peer name "vb$$"
ip link set "va$$" netns "$NS_A" && ip link set "vb$$" netns "$NS_B"
ip -n "$NS_A" addr add "$IP_A/24" dev "va$$" && ip -n "$NS_B" addr add "$IP_B/24" dev "vb$$"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set "va$$" up && ip -n "$NS_B" link set "vb$$" up || { echo "mpi-netns: could not set up the veth pair"; exit 1; }

# The remote launcher: Open MPI calls it as `agent [options] HOST COMMAND...`, as it would call ssh.
cat >"$WORK/agent" <<AGENT
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift;; *) break;; esac; done
host=\$1; shift
[ "\$host" = "$IP_B" ] && ns=$NS_B || ns=$NS_A
exec ip netns exec "\$ns" sh -c "\$*"
AGENT
chmod +x "$WORK/agent"
cd "$WORK" || exit 2
for c in a b; do
    mkdir -p "D/train/$c"
    for i in $(seq 1 40); do { printf 'P5\n8 8\n255\n'; head -c 64 /dev/urandom; } >"D/train/$c/$i.pgm"; done
done
TRAIN=(train --data D --image-size 8 --batch-size 8 --epochs 2 --threads 1 --workers 1 --schedule constant --lr 0.05)
failed=0
fail() { echo "FAIL $1"; failed=1; }

before=$(ip -n "$NS_A" -s -j link show "va$$" | grep -o '"tx":{"bytes":[0-9]*' | grep -o '[0-9]*$')
timeout -k 5 "$LIMIT" ip netns exec "$NS_A" mpirun --allow-run-as-root -np 2 --host "$IP_A:1,$IP_B:1" \
    --mca plm_rsh_agent "$WORK/agent" --mca btl self,tcp --mca btl_tcp_if_include "10.77.$SUBNET.0/24" \
    --mca oob_tcp_if_include "10.77.$SUBNET.0/24" "$BIN" "${TRAIN[@]}" --out N >N.log 2>&1 \
    || fail "2 ranks across two namespaces: exit $?: $(tail -5 N.log)"
after=$(ip -n "$NS_A" -s -j link show "va$$" | grep -o '"tx":{"bytes":[0-9]*' | grep -o '[0-9]*$')
sent=$(( ${after:-0} - ${before:-0} ))
echo "mpi-netns: $sent bytes left rank 0's namespace over the veth link in 10 steps of resnet20"
# 10 all-reduces of resnet20's 1.09 MB of gradients: each rank sends at least half of them each step.
[ "$sent" -gt 5000000 ] || fail "only $sent bytes crossed the veth link: the ranks did not talk over it"
timeout -k 5 "$LIMIT" mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none \
    --mca oob_tcp_if_include lo -np 2 "$BIN" "${TRAIN[@]}" --out L >L.log 2>&1 || fail "2 ranks over loopback: $(tail -5 L.log)"
cmp -s N/checkpoint.safetensors L/checkpoint.safetensors || fail "weights over TCP across namespaces differ from those over shared memory"
[ $failed = 0 ] && echo "mpi-netns: 2 ranks across two network namespaces trained, bit-identical to loopback"
exit $failed
