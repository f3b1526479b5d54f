#!/usr/bin/env bash
# events_cost.sh - what task events cost (docs/protocol.md 3.10): two
# clusters of one build side by side, each a private mosquitto on a free
# loopback port with two `floret node` processes; on one the nodes run with
# events off (the default: only the 2 s stats), on the other with -E and a
# subscriber taking every event (mosquitto_sub to /dev/null), so the broker
# really forwards them. bench/throughput runs alternately against each,
# --runs times, and the median and min-max tasks/s of each side are printed
# with their ratio. The events-off cost against the build before the
# counters existed is bench/ab.sh --own-cluster BEFORE AFTER throughput.
#
#   bench/events_cost.sh [--runs N] [--count N] [--build DIR]
#
# Everything it starts is killed on exit, every step runs under a timeout,
# nothing leaves 127.0.0.1. Depends on bash, cmake, mosquitto,
# mosquitto_sub, awk, sort and bench/throughput.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-bench"
RUNS=7
COUNT=100000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "events_cost: unknown argument $1" >&2; exit 2 ;;
  esac
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/floret-events-cost.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building Release in $BUILD" >&2
timeout 900 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFLORET_FRAME_LIMIT=0 >"$TMP/cmake.log" 2>&1 ||
  { cat "$TMP/cmake.log" >&2; exit 1; }
timeout 1800 cmake --build "$BUILD" -j2 --target floret throughput >"$TMP/build.log" 2>&1 ||
  { tail -40 "$TMP/build.log" >&2; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# cluster NAME [NODE ARGS...]: broker + 2 nodes; sets URL_<NAME>.
cluster() {
  local name=$1 port pid i
  shift
  for _ in $(seq 1 20); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_in_use "$port" || break
  done
  {
    echo "listener $port 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence false"
    echo "max_queued_messages 100000"
    echo "set_tcp_nodelay true"
    [[ "$(id -u)" = 0 ]] && echo "user root"
  } >"$TMP/$name.conf"
  mosquitto -c "$TMP/$name.conf" >"$TMP/$name-broker.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 50); do port_in_use "$port" && break; sleep 0.1; done
  port_in_use "$port" || { echo "events_cost: mosquitto did not start" >&2; exit 1; }
  for i in 1 2; do
    "$BUILD/floret" node --broker "mqtt://127.0.0.1:$port" --name "$name-$i" "$@" \
      >"$TMP/$name-node-$i.log" 2>&1 &
    PIDS+=("$!")
  done
  printf -v "URL_$name" 'mqtt://127.0.0.1:%s' "$port"
}

cluster off
cluster on -E
mosquitto_sub -h 127.0.0.1 -p "${URL_on##*:}" -t 'floret/v1/+/node/+/events' >/dev/null 2>&1 &
PIDS+=("$!")
sleep 2

one() { # URL
  timeout 300 "$BUILD/bench/throughput" --broker "$1" --count "$COUNT" --rounds 0 --nodes 2 |
    sed -n 's/.*tasks_per_s=\([0-9]*\).*/\1/p'
}
one "$URL_off" >/dev/null
one "$URL_on" >/dev/null
: >"$TMP/runs"
for ((i = 0; i < RUNS; i++)); do
  order="off on"; ((i % 2)) && order="on off"
  for side in $order; do
    url_var="URL_$side"
    r=$(one "${!url_var}")
    echo "$side $r" | tee -a "$TMP/runs"
  done
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo
echo "| events | burst tasks/s, median (min-max) |"
echo "| --- | ---: |"
for side in off on; do
  vals=$(awk -v s="$side" '$1 == s {print $2}' "$TMP/runs")
  echo "| $side | $(median <<<"$vals") ($(sort -g <<<"$vals" | head -1)-$(sort -g <<<"$vals" | tail -1)) |"
  printf -v "MED_$side" '%s' "$(median <<<"$vals")"
done
awk -v a="$MED_on" -v b="$MED_off" 'BEGIN {printf "\nevents on / off: %.3f\n", a / b}'
echo "command: bench/events_cost.sh --runs $RUNS --count $COUNT"
