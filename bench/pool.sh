#!/usr/bin/env bash
# pool.sh - what the process pool costs (docs/tasks.md, "Isolation"):
# tasks/s of a burst of quick tasks on a node with --pool thread beside
# the same burst on a node with --pool process, side by side in one run.
# Builds Release, starts a private mosquitto on a free loopback port and
# two `floret node` processes (same slots, one of each pool), deploys a
# one-line Lua module unsigned (the nodes run --insecure-allow-unsigned,
# on loopback only), then runs bench/throughput routed to each node in
# turn, --runs times, for the Lua task and for the native add. Prints the
# median and min-max of each and the same-run ratios process/thread.
#
# Everything it starts is killed on exit, every command runs under a
# timeout, and nothing leaves 127.0.0.1.
# Depends on bash, cmake, mosquitto, awk, sort and the bench programs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-bench"
RUNS=5
COUNT=20000
SLOTS=2

usage() {
    cat <<EOF
usage: bench/pool.sh [--runs N] [--count N] [--slots N] [--build DIR]
  --runs   alternating thread/process bursts of each task (default $RUNS)
  --count  tasks in each burst (default $COUNT)
  --slots  slots of each node (default $SLOTS)
  --build  build directory (default build-bench, Release)
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --count) COUNT=$2; shift 2 ;;
        --slots) SLOTS=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

log() { printf 'pool: %s\n' "$*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/floret-poolbench.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building Release in $BUILD"
timeout 600 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
    { cat "$TMP/cmake.log" >&2; exit 1; }
timeout 1800 cmake --build "$BUILD" -j2 --target floret throughput >"$TMP/build.log" 2>&1 ||
    { tail -40 "$TMP/build.log" >&2; exit 1; }
FLORET="$BUILD/floret"
THROUGHPUT="$BUILD/bench/throughput"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_broker() {
    local try port pid
    for try in $(seq 1 20); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$port" && continue
        {
            echo "listener $port 127.0.0.1"
            echo "allow_anonymous true"
            echo "persistence false"
            echo "max_queued_messages 100000"
            echo "set_tcp_nodelay true"
            echo "log_dest file $TMP/mosquitto.log"
            [ "$(id -u)" = 0 ] && echo "user root"
        } >"$TMP/mosquitto.conf"
        mosquitto -c "$TMP/mosquitto.conf" >>"$TMP/mosquitto.out" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            if port_in_use "$port"; then
                BROKER_PORT=$port
                return 0
            fi
            sleep 0.1
        done
        log "mosquitto did not come up on port $port (try $try)"
    done
    return 1
}

start_broker || { log "cannot start mosquitto"; exit 1; }
export FLORET_BROKER="mqtt://127.0.0.1:$BROKER_PORT"

for pool in thread process; do
    timeout 3600 "$FLORET" node --name "pool-$pool" --pool "$pool" --slots "$SLOTS" \
        --insecure-allow-unsigned -q >"$TMP/node-$pool.log" 2>&1 &
    PIDS+=("$!")
done

printf 'local M = {}\nfunction M.add(a, b) return a + b end\nreturn M\n' >"$TMP/q.lua"
sleep 1
timeout 30 "$FLORET" deploy "$TMP/q.lua" --unsigned >/dev/null
# Both nodes run q.add before the first burst (a warm-up call each).
for pool in thread process; do
    for _ in $(seq 1 50); do
        timeout 10 "$FLORET" call q.add 1 2 --route "pool-$pool" --timeout 5 >/dev/null 2>&1 &&
            break
        sleep 0.2
    done
done

field() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

burst() { # task pool run: prints tasks/s
    local out="$TMP/$1-$2-$3.out"
    timeout 600 "$THROUGHPUT" --task "$1" --route "pool-$2" --count "$COUNT" --rounds 0 \
        --warmup 0 --nodes 0 --timeout 300 >"$out" 2>"$out.err" ||
        { cat "$out.err" "$TMP/node-$2.log" >&2; exit 1; }
    grep '^burst' "$out" | head -1 >"$out.line"
    field "$out.line" tasks_per_s
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

log "broker $FLORET_BROKER, $SLOTS slots per node, $RUNS runs of $COUNT tasks"
printf '%-6s %-8s %12s %24s\n' task pool "tasks/s" "min-max"
for task in q.add add; do
    T=() P=() R=()
    for r in $(seq 1 "$RUNS"); do
        t=$(burst "$task" thread "$r")
        p=$(burst "$task" process "$r")
        T+=("$t")
        P+=("$p")
        R+=("$(awk -v a="$p" -v b="$t" 'BEGIN { printf "%.3f", a / b }')")
    done
    printf '%-6s %-8s %12s %24s\n' "$task" thread "$(printf '%s\n' "${T[@]}" | median)" \
        "$(printf '%s\n' "${T[@]}" | range)"
    printf '%-6s %-8s %12s %24s\n' "$task" process "$(printf '%s\n' "${P[@]}" | median)" \
        "$(printf '%s\n' "${P[@]}" | range)"
    printf '%-6s %-8s %12s %24s\n' "$task" ratio "$(printf '%s\n' "${R[@]}" | median)" \
        "$(printf '%s\n' "${R[@]}" | range)"
done
