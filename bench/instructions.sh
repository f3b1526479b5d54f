#!/usr/bin/env bash
# instructions.sh - what one side of a burst executes per task, counted in
# instructions (valgrind's callgrind), so two builds can be compared on a
# machine too noisy for wall-clock throughput: instruction counts do not
# depend on what else the machine runs.
#
#   bench/instructions.sh [--side worker|owner] [--runs N] [--count N] BUILD_A BUILD_B
#
# --side worker (the default): the node that runs the tasks is counted;
# --side owner: the client that submits them (queues, leases, results).
# BUILD_A and BUILD_B are build directories holding `floret` and
# `bench/throughput` (bench/ab.sh leaves them in /tmp/floret-ab/build-REV).
# Per run and build, alternating: a private Mosquitto on a free loopback
# port, one `floret node --slots 2` and the throughput client submitting
# --count add tasks, the side counted under callgrind, the other native.
# Prints each run's total instructions of that side (start-up, idle ticks
# and the tasks), the medians and B/A. Depends on bash, valgrind,
# mosquitto, awk.
set -euo pipefail

runs=5
count=40000
side=worker
while [[ $# -gt 0 ]]; do
  case "$1" in
    --side) side="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[[ $# -eq 2 ]] || { sed -n '2,20p' "$0" >&2; exit 2; }
case "$side" in worker|owner) ;; *) echo "instructions.sh: --side is worker or owner" >&2; exit 2 ;; esac
builds=("$1" "$2")
for b in "${builds[@]}"; do
  [[ -x "$b/floret" && -x "$b/bench/throughput" ]] ||
    { echo "instructions.sh: $b has no floret or bench/throughput" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# one_run BUILD: prints the counted side's instruction total for one run.
one_run() {
  local b=$1 port mp np
  while :; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_in_use "$port" || break
  done
  printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$tmp/m.conf"
  mosquitto -c "$tmp/m.conf" >"$tmp/m.log" 2>&1 &
  mp=$!
  for _ in $(seq 50); do port_in_use "$port" && break; sleep 0.1; done
  local cg=(valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out")
  local node_cg=() client_cg=("${cg[@]}")
  [[ $side == worker ]] && { node_cg=("${cg[@]}"); client_cg=(); }
  "${node_cg[@]}" "$b/floret" node --broker "mqtt://127.0.0.1:$port" --name cgw --slots 2 \
    >"$tmp/node.log" 2>&1 &
  np=$!
  sleep 4 # valgrind's start-up, then the node's presence
  if ! timeout 600 "${client_cg[@]}" "$b/bench/throughput" --broker "mqtt://127.0.0.1:$port" \
      --rounds 0 --nodes 1 --count "$count" >"$tmp/tp.log" 2>&1; then
    cat "$tmp/tp.log" >&2
    kill "$np" "$mp" 2>/dev/null || true
    return 1
  fi
  kill -TERM "$np"; wait "$np" || true
  kill "$mp"; wait "$mp" 2>/dev/null || true
  awk '/^summary:/ {print $2}' "$tmp/cg.out"
}

: >"$tmp/runs"
for ((r = 0; r < runs; r++)); do
  for i in 0 1; do
    # Alternate which build goes first, as bench/ab.sh does.
    k=$(((i + r) % 2))
    n=$(one_run "${builds[$k]}")
    echo "${builds[$k]} $n" | tee -a "$tmp/runs"
  done
done

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
a=$(awk -v b="${builds[0]}" '$1 == b {print $2}' "$tmp/runs" | median)
b=$(awk -v b="${builds[1]}" '$1 == b {print $2}' "$tmp/runs" | median)
echo
echo "median instructions of the $side, $count tasks, $runs runs each:"
echo "  A ${builds[0]}: $a"
echo "  B ${builds[1]}: $b"
awk -v a="$a" -v b="$b" 'BEGIN {printf "  B/A: %.4f (%+.2f%%)\n", b / a, (b / a - 1) * 100}'
