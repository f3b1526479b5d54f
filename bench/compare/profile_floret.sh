#!/usr/bin/env bash
# bench/compare/profile_floret.sh - where floret's per-task cost goes in the
# throughput workload of the comparison: a private mosquitto and 2 `floret
# node` processes (1 slot each, as in run.sh), then bench/throughput bursts
# --count add tasks while `perf stat` counts, per process (one worker node,
# the broker, the client): syscalls by kind, context switches and CPU time;
# and the broker's $SYS counter gives the MQTT messages per task. Prints
# every figure per task. Also the idle node's memory, mapping by mapping.
#
# Needs perf (Debian linux-perf) and mosquitto-clients; run as root (perf's
# syscall tracepoints). Everything it starts is killed on exit; every step is
# under a timeout. Depends on bash, awk, cmake and floret's build.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD="$ROOT/build-compare"
COUNT=100000
while [ $# -gt 0 ]; do
    case "$1" in
    --count) COUNT=$2; shift 2 ;;
    --build) BUILD=$(realpath -m "$2"); shift 2 ;;
    -h|--help) echo "usage: bench/compare/profile_floret.sh [--count N] [--build DIR]"; exit 0 ;;
    *) echo "profile_floret: unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v perf >/dev/null || { echo "profile_floret: needs perf (apt-get install linux-perf)" >&2; exit 1; }
command -v mosquitto_sub >/dev/null || { echo "profile_floret: needs mosquitto-clients" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/floret-profile.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout 600 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
    { cat "$TMP/cmake.log" >&2; exit 1; }
timeout 1200 cmake --build "$BUILD" -j2 --target floret throughput >"$TMP/build.log" 2>&1 ||
    { tail -20 "$TMP/build.log" >&2; exit 1; }

PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
{
    echo "listener $PORT 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence false"
    echo "max_queued_messages 100000"
    echo "set_tcp_nodelay true"
    echo "sys_interval 1"
    [ "$(id -u)" = 0 ] && echo "user root"
} >"$TMP/mosquitto.conf"
mosquitto -c "$TMP/mosquitto.conf" >"$TMP/mosquitto.log" 2>&1 &
BROKER=$!
PIDS+=("$BROKER")
URL="mqtt://127.0.0.1:$PORT"
sleep 0.5
NODES=()
for i in 1 2; do
    "$BUILD/floret" node --broker "$URL" --name "profile-node-$i" --slots 1 >"$TMP/node$i.log" 2>&1 &
    PIDS+=("$!")
    NODES+=("$!")
done
sleep 2

echo "== idle node memory (profile-node-1), kB"
grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/${NODES[0]}/status"
awk '/^Pss:/ { print "Pss:", $2, "kB" }' "/proc/${NODES[0]}/smaps_rollup"
echo "resident kB by mapping:"
awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anonymous]" : $6) }
     /^Rss:/ { rss[name] += $2 }
     END { for (n in rss) if (rss[n] > 0) printf "  %6d %s\n", rss[n], n }' \
    "/proc/${NODES[0]}/smaps" | sort -rn

# The broker publishes $SYS counters every second (sys_interval 1).
received() {
    timeout 10 mosquitto_sub -p "$PORT" -C 1 -t '$SYS/broker/publish/messages/received'
}
"$BUILD/bench/throughput" --broker "$URL" --count 10000 --rounds 0 --nodes 2 >/dev/null # warm
sleep 2
BEFORE=$(received)

EVENTS=task-clock,context-switches
for s in futex poll read write setsockopt sendto recvfrom; do
    EVENTS+=",syscalls:sys_enter_$s"
done
timeout 300 perf stat -x, -e "$EVENTS" -p "${NODES[0]}" -o "$TMP/node.stat" &
S1=$!
timeout 300 perf stat -x, -e "$EVENTS" -p "$BROKER" -o "$TMP/broker.stat" &
S2=$!
sleep 0.5
timeout 300 perf stat -x, -e "$EVENTS" -o "$TMP/client.stat" -- \
    "$BUILD/bench/throughput" --broker "$URL" --count "$COUNT" --rounds 0 --nodes 2 \
    >"$TMP/tp.out"
sleep 0.3
kill -INT "$S1" "$S2" 2>/dev/null || true
wait "$S1" "$S2" 2>/dev/null || true
sleep 2
AFTER=$(received)

echo
echo "== $COUNT add tasks"
cat "$TMP/tp.out"
NODE_TASKS=$(awk '$1 == "split" { for (i = 2; i <= NF; i++) { split($i, kv, "=");
    if (kv[1] == "profile-node-1") print kv[2] } }' "$TMP/tp.out")
echo "MQTT PUBLISH received by the broker: $((AFTER - BEFORE)) ($(awk -v m="$((AFTER - BEFORE))" \
    -v n="$COUNT" 'BEGIN { printf "%.3f", m / n }') per task)"
per_task() { # per_task FILE TASKS LABEL
    echo "-- $3 (per task, over $2 tasks)"
    awk -F, -v n="$2" '$3 != "" && $1 ~ /^[0-9.]+$/ {
        name = $3; sub(/^syscalls:sys_enter_/, "", name)
        if (name == "task-clock") printf "  %-18s %8.1f us CPU\n", name, $1 * 1000 / n
        else printf "  %-18s %8.3f\n", name, $1 / n }' "$1"
}
per_task "$TMP/node.stat" "${NODE_TASKS:-$COUNT}" "worker node profile-node-1"
per_task "$TMP/broker.stat" "$COUNT" "mosquitto"
per_task "$TMP/client.stat" "$COUNT" "client (bench/throughput)"
