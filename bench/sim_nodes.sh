#!/usr/bin/env bash
# sim_nodes.sh - the simulator's sweep of a thousand-node cluster
# (docs/scaling.md, "Hundreds of nodes"): floret-sim runs SEEDS seeds of
# NODES worker cores and 3 clients, in each fault mix below, and every
# invariant the ctest sweeps check (no task lost or run wrongly, every
# final once with its answer, at most one `work` announcement a second
# per owner connection) must hold for every seed. Prints each sweep's
# last line and wall time; exit status 1 when a seed failed.
#
# Too slow for the default test run (a thousand-node seed takes tens of
# seconds and about 2 GiB: each core keeps a record of every other node's
# presence); CI runs a 200-node sweep (sim_many_nodes in tests/sim).
#
#   bench/sim_nodes.sh [--sim build/gcc/tests/sim/floret-sim] [--nodes 1000] [--seeds 3]
#
# Depends on bash, coreutils (timeout, date), awk and a built floret-sim.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIM="$ROOT/build/gcc/tests/sim/floret-sim"
NODES=1000
SEEDS=3
while [ $# -gt 0 ]; do
    case "$1" in
    --sim) SIM=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "sim_nodes: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$SIM" ] || { echo "sim_nodes: no simulator at $SIM (build target floret-sim)" >&2; exit 2; }

rc=0
sweep() {
    local name=$1; shift
    local t0 t1 out
    t0=$(date +%s.%N)
    if out=$(timeout 3600 "$SIM" --seeds "1:$SEEDS" --nodes "$NODES" --clients 3 "$@" 2>&1); then :; else rc=1; fi
    t1=$(date +%s.%N)
    printf '%-10s %s  (%.0f s)\n' "$name" "$(printf '%s\n' "$out" | tail -1)" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    printf '%s\n' "$out" | grep -A1 'FAIL' | head -4 || true
}

echo "floret-sim: $SEEDS seeds of $NODES workers and 3 clients per sweep"
sweep clean --tasks 3000
sweep faults --tasks 3000 --loss 0.05 --dup 0.05 --reorder 0.05 --crash 0.01 --disconnect 0.005
sweep canvas --tasks 1000 --workflows 13 --dup 0.05 --crash 0.01
exit $rc
