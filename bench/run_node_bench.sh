#!/usr/bin/env bash
# run_node_bench.sh - the node benchmark in one command: builds Release,
# starts a private mosquitto on a free loopback port and two `floret node`
# processes, then runs bench/pingpong (the broker's own ceiling) and
# bench/throughput (floret, one client) alternately, --runs times, against
# that same broker. Prints median and min-max of every figure and of the
# same-run ratios, and rewrites the node-bench section of docs/benchmarks.md.
#
# Everything it starts is killed on exit (normal, error or Ctrl-C), every
# command runs under a timeout, and nothing leaves 127.0.0.1.
# Depends on bash, cmake, mosquitto, awk, sort and the bench programs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-bench"
DOC="$ROOT/docs/benchmarks.md"
RUNS=5
COUNT=100000      # floret burst tasks
ROUNDS=2000       # sequential round trips, both programs
RAW_COUNT=200000  # broker flood messages
NODES=2
SLOTS=""          # per node; empty = floret's default (one per core)
WRITE_DOC=1
COMMAND="bench/run_node_bench.sh${*:+ $*}"

usage() {
    cat <<EOF
usage: bench/run_node_bench.sh [--runs N] [--count N] [--rounds N]
                               [--raw-count N] [--slots N] [--build DIR] [--no-doc]
  --runs       alternating pingpong/throughput pairs (default $RUNS)
  --count      floret tasks in each burst (default $COUNT)
  --rounds     sequential round trips timed in each program (default $ROUNDS)
  --raw-count  messages in each broker flood (default $RAW_COUNT)
  --slots      executor slots of each of the $NODES nodes (default: one per core)
  --build      build directory (default build-bench)
  --no-doc     do not touch docs/benchmarks.md
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --raw-count) RAW_COUNT=$2; shift 2 ;;
    --slots) SLOTS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --no-doc) WRITE_DOC=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_node_bench: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$RUNS" "$COUNT" "$ROUNDS" "$RAW_COUNT" ${SLOTS:+"$SLOTS"}; do
    case "$n" in ''|*[!0-9]*) echo "run_node_bench: not a number: $n" >&2; exit 2 ;; esac
done
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 50 ] || { echo "run_node_bench: --runs 1..50" >&2; exit 2; }
[ "$ROUNDS" -ge 1 ] && [ "$COUNT" -ge 1 ] && [ "$RAW_COUNT" -ge 1 ] ||
    { echo "run_node_bench: counts must be >= 1" >&2; exit 2; }

log() { printf 'run_node_bench: %s\n' "$*" >&2; }

# ------------------------------------------------------------------ cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/floret-nodebench.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 30); do
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

# -------------------------------------------------------------------- build
log "building Release in $BUILD"
timeout 600 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
    { cat "$TMP/cmake.log" >&2; exit 1; }
timeout 1800 cmake --build "$BUILD" -j2 --target floret pingpong throughput >"$TMP/build.log" 2>&1 ||
    { tail -40 "$TMP/build.log" >&2; exit 1; }
FLORET="$BUILD/floret"
PINGPONG="$BUILD/bench/pingpong"
THROUGHPUT="$BUILD/bench/throughput"

# ------------------------------------------------------------------- broker
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Same settings as `floret local`, plus TCP_NODELAY so that neither side's
# QoS 1 round trip waits on Nagle and delayed ACKs (about 40 ms a hop).
write_broker_conf() {
    {
        echo "listener $1 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence false"
        echo "max_queued_messages 100000"
        echo "set_tcp_nodelay true"
        echo "log_dest file $TMP/mosquitto.log"
        [ "$(id -u)" = 0 ] && echo "user root"
    } >"$TMP/mosquitto.conf"
    return 0
}

start_broker() {
    local try port
    for try in $(seq 1 20); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$port" && continue
        write_broker_conf "$port"
        mosquitto -c "$TMP/mosquitto.conf" >>"$TMP/mosquitto.out" 2>&1 &
        local pid=$!
        PIDS+=("$pid")
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            if port_in_use "$port"; then
                BROKER_PORT=$port
                return 0
            fi
            sleep 0.1
        done
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        log "mosquitto did not come up on port $port (try $try)"
    done
    cat "$TMP/mosquitto.out" >&2 || true
    return 1
}

start_broker || { log "cannot start mosquitto"; exit 1; }
URL="mqtt://127.0.0.1:$BROKER_PORT"
log "broker $URL"

NODE_PIDS=()
for i in $(seq 1 "$NODES"); do
    "$FLORET" node --broker "$URL" --name "bench-node-$i" ${SLOTS:+--slots "$SLOTS"} \
        >"$TMP/node$i.log" 2>&1 &
    PIDS+=("$!")
    NODE_PIDS+=("$!")
done

nodes_alive() {
    local pid i=0
    for pid in "${NODE_PIDS[@]}"; do
        i=$((i + 1))
        if ! kill -0 "$pid" 2>/dev/null; then
            log "floret node $i died; its log:"
            tail -20 "$TMP/node$i.log" >&2
            return 1
        fi
    done
}

# -------------------------------------------------------------------- runs
# field FILE PREFIX KEY: the value of KEY=... on the line starting with PREFIX.
field() {
    awk -v p="$2" -v k="$3" '$1 == p { for (i = 2; i <= NF; i++) {
        split($i, kv, "="); if (kv[1] == k) { print kv[2]; exit } } }' "$1"
}

RAW=() PP50=() PP99=() TPS=() FP50=() FP99=() SPLIT=()
for r in $(seq 1 "$RUNS"); do
    nodes_alive || exit 1
    log "run $r/$RUNS: pingpong"
    timeout 300 "$PINGPONG" --broker "$URL" --count "$RAW_COUNT" --rounds "$ROUNDS" \
        >"$TMP/pp$r.out" 2>"$TMP/pp$r.err" ||
        { cat "$TMP/pp$r.err" >&2; log "pingpong failed"; exit 1; }
    log "run $r/$RUNS: throughput"
    timeout 600 "$THROUGHPUT" --broker "$URL" --count "$COUNT" --rounds "$ROUNDS" \
        --nodes "$NODES" --timeout 540 >"$TMP/tp$r.out" 2>"$TMP/tp$r.err" ||
        { cat "$TMP/tp$r.err" >&2; log "throughput failed"; exit 1; }
    RAW+=("$(field "$TMP/pp$r.out" raw msgs_per_s)")
    PP50+=("$(field "$TMP/pp$r.out" rtt p50_us)")
    PP99+=("$(field "$TMP/pp$r.out" rtt p99_us)")
    TPS+=("$(field "$TMP/tp$r.out" burst tasks_per_s)")
    FP50+=("$(field "$TMP/tp$r.out" latency p50_us)")
    FP99+=("$(field "$TMP/tp$r.out" latency p99_us)")
    SPLIT+=("$(awk '$1 == "split" { $1 = ""; sub(/^ /, ""); print }' "$TMP/tp$r.out")")
    log "run $r: broker ${RAW[-1]} msg/s, p50 ${PP50[-1]} us | floret ${TPS[-1]} tasks/s, p50 ${FP50[-1]} us"
done
nodes_alive || exit 1

# ratio A B: A/B per run, two decimals.
ratios() {
    local -n a=$1 b=$2
    local i
    for i in "${!a[@]}"; do awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.2f\n", x / y }'; done
}
mapfile -t R_TPS < <(ratios TPS RAW)
mapfile -t R_P50 < <(ratios FP50 PP50)

# stat V...: "median min max" of the numbers given.
stat() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s %s %s\n", m, v[1], v[NR] }'
}

# row LABEL V...: one markdown table row with median and min-max.
row() {
    local label=$1; shift
    local s; s=$(stat "$@")
    awk -v l="$label" -v s="$s" '
        function f(v) { return v >= 100 ? sprintf("%.0f", v) : sprintf("%.2f", v) }
        BEGIN { split(s, x, " "); printf "| %s | %s | %s – %s |\n", l, f(x[1]), f(x[2]), f(x[3]) }'
}

TABLE=$(
    echo "| figure (same broker, same run) | median | min – max |"
    echo "| --- | ---: | ---: |"
    row "broker: raw QoS 0 flood, msg/s received" "${RAW[@]}"
    row "broker: ping-pong p50, µs" "${PP50[@]}"
    row "broker: ping-pong p99, µs" "${PP99[@]}"
    row "floret: $COUNT add tasks, tasks/s with results" "${TPS[@]}"
    row "floret: one task round trip p50, µs" "${FP50[@]}"
    row "floret: one task round trip p99, µs" "${FP99[@]}"
    row "ratio: floret tasks/s ÷ broker msg/s" "${R_TPS[@]}"
    row "ratio: floret p50 ÷ broker ping-pong p50" "${R_P50[@]}"
)
RAWS=$(
    echo "| run | broker msg/s | broker p50 µs | broker p99 µs | floret tasks/s | floret p50 µs | floret p99 µs | tasks/s ÷ msg/s | p50 ÷ p50 | tasks per node |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    for i in "${!RAW[@]}"; do
        echo "| $((i + 1)) | ${RAW[$i]} | ${PP50[$i]} | ${PP99[$i]} | ${TPS[$i]} | ${FP50[$i]} | ${FP99[$i]} | ${R_TPS[$i]} | ${R_P50[$i]} | ${SPLIT[$i]} |"
    done
)
echo
echo "$TABLE"
echo
echo "$RAWS"

[ "$WRITE_DOC" = 1 ] || exit 0

# ------------------------------------------------------------------ the doc
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
MOSQ=$(mosquitto -h 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
SLOT_TEXT=${SLOTS:-"one per core ($(nproc))"}
{
    echo "<!-- node-bench:begin (written by bench/run_node_bench.sh; edits here are overwritten) -->"
    echo "## One client, two nodes"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(nproc) CPUs, ${CPU:-unknown CPU}, Linux $(uname -r), mosquitto ${MOSQ:-unknown}"
    echo "- Command: \`$COMMAND\`"
    echo "- Setup: one private mosquitto on 127.0.0.1 (\`persistence false\`," \
         "\`max_queued_messages 100000\`, \`set_tcp_nodelay true\`); $NODES \`floret node\`" \
         "processes with $SLOT_TEXT slots each; the client is a node with 0 slots in" \
         "\`bench/throughput\`. Client, nodes and broker share the machine."
    echo "- Broker figures (\`bench/pingpong\`, libmosquitto only): $RAW_COUNT messages of 64 bytes" \
         "flooded at QoS 0 from one connection to another; $ROUNDS sequential QoS 1 ping-pongs" \
         "(after 100 untimed)."
    echo "- floret figures (\`bench/throughput\`, public API only): $COUNT \`add(i, i)\` submitted" \
         "at once, time until every result is back and checked; then $ROUNDS single tasks one" \
         "after the other (after 200 untimed), call to checked result."
    echo "- $RUNS runs, pingpong and throughput alternating against the same broker and nodes."
    echo
    echo "$TABLE"
    echo
    echo "Raw figures, run by run:"
    echo
    echo "$RAWS"
    echo "<!-- node-bench:end -->"
} >"$TMP/section.md"

if [ ! -f "$DOC" ]; then
    printf '# floret benchmarks\n\n' >"$DOC"
fi
if grep -q '^<!-- node-bench:begin' "$DOC"; then
    awk -v sec="$TMP/section.md" '
        /^<!-- node-bench:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
        /^<!-- node-bench:end/ { skip = 0; next }
        !skip { print }' "$DOC" >"$TMP/doc.md"
else
    { cat "$DOC"; echo; cat "$TMP/section.md"; } >"$TMP/doc.md"
fi
cp "$TMP/doc.md" "$DOC"
log "updated $DOC"
