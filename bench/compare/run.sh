#!/usr/bin/env bash
# bench/compare/run.sh - floret side by side with Celery (Redis), Gearman and
# Dask on this machine, in one run: installs the peers from Debian's packages
# when they are missing (as root), starts each on loopback ports of its own,
# then runs the same workloads against floret and every peer, alternating, for
# --runs rounds (the peers not being measured paused with SIGSTOP), and
# writes one table (median, min-max, ratio floret / peer) into the compare
# section of docs/benchmarks.md.
#
# Workloads: 10,000 add tasks from one client (tasks/s with results); 1,000
# sequential add round trips (p50/p99); a chord of 1,000 adds into a sum; a
# word count of the 100 MB corpus of bench/corpus.sh (MB/s, every listing
# checked equal to floret's and bench/wc_single's); the RSS of one idle worker
# process of each. In the same run, the broker's ceiling (bench/pingpong).
#
# Bounded: the whole script runs under a timeout and stops taking new rounds
# when its time budget would be passed; every program runs under its own
# timeout. Everything it starts runs in a process group of its own and is
# killed on exit, however the script ends. A peer that cannot be installed or
# started gets a row that says so. Not part of the test suite (slow, extra
# packages): `--quick` is its own self-check (tiny counts, one round, no doc).
# Depends on bash, cmake, apt-get (for installs), mosquitto, awk, sha256sum,
# /usr/bin/python3 and the programs beside this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUDGET_S=1500 # the whole script, installs and build included (25 min)
for ((i = 1; i < $#; i++)); do
    j=$((i + 1))
    [ "${!i}" = --budget ] && BUDGET_S=${!j}
done
case "$BUDGET_S" in ''|*[!0-9]*) echo "compare: --budget needs seconds" >&2; exit 2 ;; esac

# The hard bound: re-run under timeout once; TERM runs the cleanup trap.
if [ -z "${FLORET_COMPARE_BOUNDED:-}" ]; then
    export FLORET_COMPARE_BOUNDED=1
    exec timeout -k 20 "$((BUDGET_S + 60))" "$0" "$@"
fi
START_S=$SECONDS

BUILD="$ROOT/build-compare"
DOC="$ROOT/docs/benchmarks.md"
RUNS=5
COUNT=10000     # throughput tasks
ROUNDS=1000     # sequential round trips
WARMUP=100      # untimed round trips before them
CHORD=1000      # chord members
RAW_COUNT=200000
CORPUS_SIZE=104857600
FLORET_CHUNK="adaptive (floret wordcount's default: at most 16 MiB by reference, 4 MiB as bytes)"
CELERY_CHUNK=4194304
DASK_CHUNK=4194304
GEARMAN_CHUNK=65536   # gearmand slows down sharply with larger jobs (docs/benchmarks.md)
CORPUS=""
PEERS="celery gearman dask"
INSTALL=1
WRITE_DOC=1
QUICK=0
COMMAND="bench/compare/run.sh${*:+ $*}"

usage() {
    cat <<EOF
usage: bench/compare/run.sh [--runs N] [--budget S] [--quick] [--peers "celery gearman dask"]
                            [--corpus FILE] [--build DIR] [--no-install] [--no-doc]
  --runs        rounds of all workloads on every system, alternating (default $RUNS)
  --budget      seconds for the whole script (default $BUDGET_S); no round is
                started that would end past it, and a hard timeout backs it up
  --quick       self-check: 200 tasks, 50 round trips, chord of 100, 5 MiB corpus,
                1 round, docs/benchmarks.md untouched
  --peers       which peers to run (default: "$PEERS")
  --corpus      word-count input (default: bench/corpus.sh's 100 MiB corpus)
  --build       build directory (default build-compare)
  --no-install  do not apt-get install missing peers; say they are missing
  --no-doc      do not touch docs/benchmarks.md
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --budget) shift 2 ;; # read above, before the re-run under timeout
    --quick) QUICK=1; shift ;;
    --peers) PEERS=$2; shift 2 ;;
    --corpus) CORPUS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --no-doc) WRITE_DOC=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ "$QUICK" = 1 ]; then
    RUNS=1 COUNT=200 ROUNDS=50 WARMUP=10 CHORD=100 RAW_COUNT=20000 CORPUS_SIZE=5242880
    WRITE_DOC=0
fi
# Absolute: the services are started from other directories.
BUILD=$(realpath -m "$BUILD")
[ -z "$CORPUS" ] || CORPUS=$(realpath -m "$CORPUS")
case "$RUNS" in ''|*[!0-9]*) echo "compare: --runs needs a number" >&2; exit 2 ;; esac
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 20 ] || { echo "compare: --runs 1..20" >&2; exit 2; }
for p in $PEERS; do
    case "$p" in celery|gearman|dask) ;; *) echo "compare: unknown peer $p" >&2; exit 2 ;; esac
done

log() { printf 'compare: %s\n' "$*" >&2; }
PY=/usr/bin/python3 # Debian's Python: the one that sees Debian's celery and dask

# ------------------------------------------------------------------ cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/floret-compare.XXXXXX")
GROUPS_STARTED=()
# Each service runs under setsid, so its pid is also its process group and
# the group takes every child with it (Celery's pool, Dask's workers).
cleanup() {
    local g alive
    [ -n "$CURRENT" ] && kill -TERM "$CURRENT" 2>/dev/null
    # A peer paused for another's turn must run again to hear the TERM.
    for g in "${GROUPS_STARTED[@]}"; do kill -CONT -- "-$g" 2>/dev/null || true; done
    for g in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        alive=0
        for g in "${GROUPS_STARTED[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for g in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
    for g in "${GROUPS_STARTED[@]}"; do wait "$g" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn LOG DIR CMD...: start CMD in DIR in a new process group; its pid
# (which is also the group's id) goes to $SPAWNED.
spawn() {
    local out=$1 dir=$2; shift 2
    (cd "$dir" && exec setsid "$@") >"$out" 2>&1 </dev/null &
    SPAWNED=$!
    GROUPS_STARTED+=("$SPAWNED")
    [ -n "$SPAWN_FOR" ] && SYS_GROUPS[$SPAWN_FOR]+=" $SPAWNED"
    return 0
}

# Each peer's process groups, to pause it during the others' turns: an idle
# Dask cluster alone used about 8 % of a core here (heartbeats, monitors),
# which fell on whichever system was being measured. floret stays up: its
# idle processes use no measurable CPU, and a paused MQTT client would miss
# its keep-alive.
declare -A SYS_GROUPS=()
SPAWN_FOR=""
# quiet_others SYSTEM: SIGSTOP every peer but SYSTEM; wake_peers undoes it.
quiet_others() {
    local p g
    for p in $PEERS; do
        [ "$p" = "$1" ] && continue
        for g in ${SYS_GROUPS[$p]:-}; do kill -STOP -- "-$g" 2>/dev/null || true; done
    done
}
wake_peers() {
    local p g
    for p in $PEERS; do
        for g in ${SYS_GROUPS[$p]:-}; do kill -CONT -- "-$g" 2>/dev/null || true; done
    done
}

# bounded SECONDS CMD...: CMD under a timeout, in the background so that
# the cleanup can stop it too (timeout puts CMD in a group of its own).
CURRENT=""
bounded() {
    local limit=$1; shift
    timeout -k 10 "$limit" "$@" &
    CURRENT=$!
    local rc=0
    wait "$CURRENT" || rc=$?
    CURRENT=""
    return "$rc"
}

declare -A STATUS=() # peer -> "ok" or why it has no figures
for p in floret $PEERS; do STATUS[$p]=ok; done
fail_peer() { STATUS[$1]=$2; log "$1: $2"; }

# --------------------------------------------------------------- packages
declare -A PACKAGES=(
    [celery]="python3-celery python3-redis redis-server"
    [gearman]="gearman-job-server libgearman-dev"
    [dask]="python3-distributed python3-dask"
)
missing_packages() {
    local p out=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=" $p"
    done
    echo "${out# }"
}
APT_UPDATED=0
apt_install() {
    bounded 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
        >>"$TMP/apt.log" 2>&1 && return 0
    [ "$APT_UPDATED" = 1 ] && return 1
    APT_UPDATED=1
    bounded 300 apt-get update >>"$TMP/apt.log" 2>&1 || true
    bounded 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
        >>"$TMP/apt.log" 2>&1
}
ensure_packages() { # ensure_packages WHO PKG...: 0 when all are installed
    local who=$1; shift
    local miss; miss=$(missing_packages "$@")
    [ -z "$miss" ] && return 0
    if [ "$INSTALL" = 0 ] || [ "$(id -u)" != 0 ]; then
        fail_peer "$who" "not installed (missing Debian packages: $miss; run as root without --no-install)"
        return 1
    fi
    log "installing $miss"
    # shellcheck disable=SC2086
    if ! apt_install $miss; then
        tail -5 "$TMP/apt.log" >&2
        fail_peer "$who" "not installed (apt-get install $miss failed)"
        return 1
    fi
}
for p in $PEERS; do
    # shellcheck disable=SC2086
    ensure_packages "$p" ${PACKAGES[$p]} || true
done
if [ -z "$CORPUS" ]; then
    ensure_packages corpus fortunes || { log "the corpus needs the package fortunes"; exit 1; }
fi

# -------------------------------------------------------------------- build
log "building Release in $BUILD"
# What was built, taken now: the tree may change while the rounds run.
SOURCE=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "not a git tree")
bounded 600 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
    { cat "$TMP/cmake.log" >&2; exit 1; }
TARGETS="floret pingpong throughput canvas wc_single"
[ "${STATUS[gearman]:-}" = ok ] && TARGETS+=" gearman_client gearman_worker"
# shellcheck disable=SC2086
bounded 1200 cmake --build "$BUILD" -j2 --target $TARGETS >"$TMP/build.log" 2>&1 ||
    { tail -40 "$TMP/build.log" >&2; exit 1; }
FLORET="$BUILD/floret"
BIN="$BUILD/bench"

# ------------------------------------------------------------------- corpus
if [ -z "$CORPUS" ]; then
    CORPUS="$BUILD/compare-corpus-$CORPUS_SIZE.txt"
    if [ ! -f "$CORPUS" ] || [ "$(stat -c %s "$CORPUS")" != "$CORPUS_SIZE" ]; then
        log "building the corpus ($CORPUS_SIZE bytes)"
        bounded 300 "$ROOT/bench/corpus.sh" --size "$CORPUS_SIZE" "$CORPUS" >"$TMP/corpus.log" 2>&1 ||
            { cat "$TMP/corpus.log" >&2; exit 1; }
    fi
fi
[ -r "$CORPUS" ] || { log "cannot read the corpus $CORPUS"; exit 1; }
CORPUS_BYTES=$(stat -c %s "$CORPUS")
CORPUS_SHA=$(sha256sum "$CORPUS" | awk '{ print $1 }')
bounded 300 "$BIN/wc_single" --all "$CORPUS" >"$TMP/reference.list" ||
    { log "bench/wc_single failed on the corpus"; exit 1; }
REF_SHA=$(sha256sum "$TMP/reference.list" | awk '{ print $1 }')
log "corpus $CORPUS ($CORPUS_BYTES bytes), reference listing sha256 $REF_SHA"

# ----------------------------------------------------------------- services
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}
# wait_port PID PORT: until PORT accepts or PID dies (10 s).
wait_port() {
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || return 1
        port_in_use "$2" && return 0
        sleep 0.1
    done
    return 1
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
# PSS: shared pages (libraries) divided among the processes that map them.
pss_kib() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || true; }
alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done; }

start_floret() {
    local port; port=$(free_port) || return 1
    {   # The settings of `floret local` and bench/run_node_bench.sh.
        echo "listener $port 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence false"
        echo "max_queued_messages 100000"
        echo "set_tcp_nodelay true"
        [ "$(id -u)" = 0 ] && echo "user root"
    } >"$TMP/mosquitto.conf"
    # floret local's malloc settings too (cli/malloc_tune.h): without them
    # every multi-MiB word-count message costs the broker a page fault per page.
    spawn "$TMP/mosquitto.log" "$TMP" env "$(sed -n 's/^ *"\(GLIBC_TUNABLES=[^"]*\)"$/\1/p' \
        "$ROOT/cli/malloc_tune.h")" mosquitto -c "$TMP/mosquitto.conf"
    MOSQ_PID=$SPAWNED
    wait_port "$MOSQ_PID" "$port" || { fail_peer floret "could not start (mosquitto)"; return 1; }
    FLORET_URL="mqtt://127.0.0.1:$port"
    FLORET_NODES=()
    for i in 1 2; do
        spawn "$TMP/floret-node$i.log" "$TMP" "$FLORET" node --broker "$FLORET_URL" \
            --name "compare-node-$i" --slots 1
        FLORET_NODES+=("$SPAWNED")
    done
    FLORET_SERVER=$MOSQ_PID FLORET_WORKER=${FLORET_NODES[0]}
    FLORET_ALIVE="$MOSQ_PID ${FLORET_NODES[*]}"
}

start_celery() {
    local port; port=$(free_port) || return 1
    spawn "$TMP/redis.log" "$TMP" redis-server --port "$port" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize no
    REDIS_PID=$SPAWNED
    wait_port "$REDIS_PID" "$port" || { fail_peer celery "could not start (redis-server)"; return 1; }
    CELERY_URL="redis://127.0.0.1:$port/0"
    # C_FORCE_ROOT: Celery refuses pickle as root without it; the pickle
    # serializer carries the word-count chunks as bytes.
    spawn "$TMP/celery.log" "$HERE" env C_FORCE_ROOT=1 CMP_REDIS_URL="$CELERY_URL" \
        PYTHONPATH="$HERE" "$PY" -m celery -A celery_app worker --concurrency 2 \
        -P prefork --loglevel WARNING -n "compare@127.0.0.1"
    CELERY_PID=$SPAWNED
    sleep 1
    alive "$CELERY_PID" || { tail -5 "$TMP/celery.log" >&2; fail_peer celery "could not start (celery worker)"; return 1; }
    CELERY_SERVER=$REDIS_PID CELERY_WORKER=$CELERY_PID
    CELERY_ALIVE="$REDIS_PID $CELERY_PID"
}

start_gearman() {
    local port; port=$(free_port) || return 1
    spawn "$TMP/gearmand.out" "$TMP" gearmand --listen=127.0.0.1 --port="$port" \
        --log-file="$TMP/gearmand.log" --verbose=ERROR
    GEARMAND_PID=$SPAWNED
    wait_port "$GEARMAND_PID" "$port" || { fail_peer gearman "could not start (gearmand)"; return 1; }
    GEARMAN_PORT=$port
    GEARMAN_WORKERS=()
    for i in 1 2; do
        spawn "$TMP/gearman-worker$i.log" "$TMP" "$BIN/compare/gearman_worker" --port "$port"
        GEARMAN_WORKERS+=("$SPAWNED")
    done
    sleep 0.5
    GEARMAN_SERVER=$GEARMAND_PID GEARMAN_WORKER=${GEARMAN_WORKERS[0]}
    GEARMAN_ALIVE="$GEARMAND_PID ${GEARMAN_WORKERS[*]}"
    alive $GEARMAN_ALIVE || { fail_peer gearman "could not start (gearman_worker)"; return 1; }
}

start_dask() {
    local port; port=$(free_port) || return 1
    spawn "$TMP/dask.log" "$HERE" env PYTHONPATH="$HERE" "$PY" dask_cluster.py "$port" \
        "$TMP/dask.ready"
    DASK_PID=$SPAWNED
    for _ in $(seq 1 600); do
        [ -f "$TMP/dask.ready" ] && break
        alive "$DASK_PID" || break
        sleep 0.1
    done
    [ -f "$TMP/dask.ready" ] || { tail -5 "$TMP/dask.log" >&2; fail_peer dask "could not start (LocalCluster)"; return 1; }
    DASK_URL="tcp://127.0.0.1:$port"
    local pids; pids=$("$PY" -c 'import json, sys; print(*json.load(open(sys.argv[1]))["worker_pids"])' "$TMP/dask.ready")
    # shellcheck disable=SC2206
    local w=($pids)
    DASK_SERVER=$DASK_PID DASK_WORKER=${w[0]}
    DASK_ALIVE="$DASK_PID $pids"
}

for p in floret $PEERS; do
    [ "${STATUS[$p]}" = ok ] || continue
    log "starting $p"
    SPAWN_FOR=$p
    "start_$p" || { [ "${STATUS[$p]}" = ok ] && fail_peer "$p" "could not start (no free port)"; }
done
SPAWN_FOR=""
[ "${STATUS[floret]}" = ok ] || { log "floret itself did not start"; exit 1; }
sleep 2 # presence retained, pools forked, workers registered

# --------------------------------------------------------------------- runs
RESULTS="$TMP/results.tsv"
NOTES="$TMP/notes.txt"
: >"$RESULTS"
: >"$NOTES"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }
note() { echo "$*" >>"$NOTES"; log "$*"; }

# field FILE PREFIX KEY: the value of KEY=... on the line starting with PREFIX.
field() {
    awk -v p="$2" -v k="$3" '$1 == p { for (i = 2; i <= NF; i++) {
        split($i, kv, "="); if (kv[1] == k) { print kv[2]; exit } } }' "$1"
}
# record_driver RUN SYSTEM OUT: the figures every driver prints the same way.
record_driver() {
    local r=$1 s=$2 out=$3 v
    v=$(field "$out" throughput tasks_per_s); [ -n "$v" ] && record "$r" "$s" tps "$v"
    v=$(field "$out" burst tasks_per_s); [ -n "$v" ] && record "$r" "$s" tps "$v"
    v=$(field "$out" latency p50_us); [ -n "$v" ] && record "$r" "$s" p50_us "$v"
    v=$(field "$out" latency p99_us); [ -n "$v" ] && record "$r" "$s" p99_us "$v"
    v=$(field "$out" chord wall_s); [ -n "$v" ] && record "$r" "$s" chord_s "$v"
    v=$(field "$out" workflow=chord wall_s); [ -n "$v" ] && record "$r" "$s" chord_s "$v"
    v=$(field "$out" wordcount mb_per_s); [ -n "$v" ] && record "$r" "$s" wc_mbps "$v"
    awk '$1 == "fail" { print }' "$out" | while read -r line; do note "run $r: $s: $line"; done
    return 0
}
# check_listing RUN SYSTEM FILE: the word counts equal the reference's?
check_listing() {
    local sha
    if [ -s "$3" ] && sha=$(sha256sum "$3" | awk '{ print $1 }') && [ "$sha" = "$REF_SHA" ]; then
        record "$1" "$2" wc_equal 1
    else
        record "$1" "$2" wc_equal 0
        note "run $1: $2: word counts differ from bench/wc_single's (listing sha256 ${sha:-none})"
    fi
}
# idle RUN SYSTEM WORKER SERVER: RSS of the idle worker and of the server.
idle() {
    local v
    v=$(rss_kib "$3"); [ -n "$v" ] && record "$1" "$2" rss_worker_kib "$v"
    v=$(pss_kib "$3"); [ -n "$v" ] && record "$1" "$2" pss_worker_kib "$v"
    v=$(rss_kib "$4"); [ -n "$v" ] && record "$1" "$2" rss_server_kib "$v"
    return 0
}
# still_up SYSTEM PIDS...: the system's processes are alive, else mark it.
still_up() {
    local s=$1; shift
    alive "$@" && return 0
    fail_peer "$s" "stopped running during the rounds (a process of it died)"
    return 1
}

turn_ceiling() {
    local r=$1 out="$TMP/pingpong$1.out"
    bounded 300 "$BIN/pingpong" --broker "$FLORET_URL" --count "$RAW_COUNT" --rounds "$ROUNDS" \
        >"$out" 2>"$out.err" || { note "run $r: pingpong failed: $(tail -1 "$out.err")"; return 0; }
    record "$r" broker raw_msgs "$(field "$out" raw msgs_per_s)"
    record "$r" broker p50_us "$(field "$out" rtt p50_us)"
    record "$r" broker p99_us "$(field "$out" rtt p99_us)"
}

turn_floret() {
    local r=$1 out="$TMP/floret$1.out" v
    # shellcheck disable=SC2086
    still_up floret $FLORET_ALIVE || return 0
    idle "$r" floret "$FLORET_WORKER" "$FLORET_SERVER"
    bounded 300 "$BIN/throughput" --broker "$FLORET_URL" --count "$COUNT" --rounds "$ROUNDS" \
        --warmup "$WARMUP" --nodes 2 --timeout 280 >"$out" 2>"$out.err" ||
        note "run $r: floret: bench/throughput failed: $(tail -1 "$out.err")"
    bounded 300 "$BIN/canvas" --broker "$FLORET_URL" --chord "$CHORD" --group 0 --timeout 280 \
        >>"$out" 2>>"$out.err" || note "run $r: floret: bench/canvas failed: $(tail -1 "$out.err")"
    record_driver "$r" floret "$out"
    if bounded 300 "$FLORET" wordcount --broker "$FLORET_URL" --json \
        "$CORPUS" >"$TMP/floret-wc$r.json" 2>>"$out.err"; then
        v=$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print("%.1f" % (d["bytes"] / 1e6 / d["elapsed_s"]))' "$TMP/floret-wc$r.json")
        record "$r" floret wc_mbps "$v"
    else
        note "run $r: floret: floret wordcount --json failed"
    fi
    # The same through the broker only, as Celery and Gearman must do it.
    if bounded 300 "$FLORET" wordcount --broker "$FLORET_URL" --json --no-locality \
        "$CORPUS" >"$TMP/floret-wcb$r.json" 2>>"$out.err"; then
        v=$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print("%.1f" % (d["bytes"] / 1e6 / d["elapsed_s"]))' "$TMP/floret-wcb$r.json")
        record "$r" floret wc_bytes_mbps "$v"
    else
        note "run $r: floret: floret wordcount --no-locality failed"
    fi
    if bounded 300 "$FLORET" wordcount --broker "$FLORET_URL" --all "$CORPUS" \
        >"$TMP/floret$r.list" 2>>"$out.err"; then
        check_listing "$r" floret "$TMP/floret$r.list"
    else
        note "run $r: floret: floret wordcount --all failed"
    fi
    rm -f "$TMP/floret$r.list"
}

# py_turn SYSTEM URL CHUNK WORKER SERVER ALIVE...: a Python driver's round.
py_turn() {
    local r=$1 s=$2 url=$3 chunk=$4 worker=$5 server=$6; shift 6
    local out="$TMP/$s$r.out"
    still_up "$s" "$@" || return 0
    idle "$r" "$s" "$worker" "$server"
    bounded 600 "$PY" "$HERE/${s}_driver.py" --url "$url" --count "$COUNT" \
        --rounds "$ROUNDS" --warmup "$WARMUP" --chord "$CHORD" --corpus "$CORPUS" \
        --chunk "$chunk" --listing "$TMP/$s$r.list" --timeout 280 >"$out" 2>"$out.err" ||
        note "run $r: $s: driver exited with $? ($(grep -m1 -o 'step=[a-z]*' "$out" || echo 'timeout?'))"
    record_driver "$r" "$s" "$out"
    grep -q '^wordcount ' "$out" && check_listing "$r" "$s" "$TMP/$s$r.list"
    rm -f "$TMP/$s$r.list"
}

turn_celery() {
    # shellcheck disable=SC2086
    py_turn "$1" celery "$CELERY_URL" "$CELERY_CHUNK" "$CELERY_WORKER" "$CELERY_SERVER" $CELERY_ALIVE
    # The pool processes too: Celery's prefork children are workers as well.
    local c; c=$(pgrep -P "$CELERY_PID" | head -1 || true)
    [ -n "$c" ] && record "$1" celery rss_child_kib "$(rss_kib "$c")"
    return 0
}

turn_dask() {
    # shellcheck disable=SC2086
    py_turn "$1" dask "$DASK_URL" "$DASK_CHUNK" "$DASK_WORKER" "$DASK_SERVER" $DASK_ALIVE
}

turn_gearman() {
    local r=$1 out="$TMP/gearman$1.out"
    # shellcheck disable=SC2086
    still_up gearman $GEARMAN_ALIVE || return 0
    idle "$r" gearman "$GEARMAN_WORKER" "$GEARMAN_SERVER"
    bounded 600 "$BIN/compare/gearman_client" --port "$GEARMAN_PORT" --count "$COUNT" \
        --rounds "$ROUNDS" --warmup "$WARMUP" --chord "$CHORD" --corpus "$CORPUS" \
        --chunk "$GEARMAN_CHUNK" --listing "$TMP/gearman$r.list" >"$out" 2>"$out.err" ||
        note "run $r: gearman: client exited with $?"
    record_driver "$r" gearman "$out"
    grep -q '^wordcount ' "$out" && check_listing "$r" gearman "$TMP/gearman$r.list"
    rm -f "$TMP/gearman$r.list"
}

ORDER=(ceiling floret)
for p in $PEERS; do [ "${STATUS[$p]}" = ok ] && ORDER+=("$p"); done
DONE_RUNS=0
LONGEST=0
for r in $(seq 1 "$RUNS"); do
    t0=$SECONDS
    left=$((BUDGET_S - (SECONDS - START_S)))
    if [ "$r" -gt 1 ] && [ "$((LONGEST + 30))" -gt "$left" ]; then
        note "stopped after $DONE_RUNS of $RUNS rounds: the next would pass the time budget"
        break
    fi
    # Rotate the order each round so no system always runs first or last.
    n=${#ORDER[@]}
    for i in $(seq 0 $((n - 1))); do
        s=${ORDER[$(((i + r - 1) % n))]}
        [ "$s" = ceiling ] || [ "${STATUS[$s]}" = ok ] || continue
        log "round $r/$RUNS: $s"
        quiet_others "$s"
        "turn_$s" "$r"
        wake_peers
    done
    DONE_RUNS=$r
    [ $((SECONDS - t0)) -gt "$LONGEST" ] && LONGEST=$((SECONDS - t0))
    log "round $r took $((SECONDS - t0)) s"
done

# -------------------------------------------------------------------- table
for p in floret celery gearman dask; do
    if [[ " floret $PEERS " == *" $p "* ]]; then
        printf '%s\t%s\n' "$p" "${STATUS[$p]}"
    else
        printf '%s\t%s\n' "$p" "not run (left out with --peers)"
    fi
done >"$TMP/status.tsv"
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
cat >"$TMP/meta.txt" <<EOF
command=$COMMAND
date=$(date -u '+%Y-%m-%d %H:%M UTC')
source=$SOURCE
machine=$(nproc) CPUs, ${CPU:-unknown CPU}, $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)
runs=$DONE_RUNS
count=$COUNT
rounds=$ROUNDS
warmup=$WARMUP
chord=$CHORD
raw_count=$RAW_COUNT
corpus=$(basename "$CORPUS"), $CORPUS_BYTES bytes, sha256 $CORPUS_SHA
reference_sha=$REF_SHA
chunks=floret $FLORET_CHUNK, Celery $CELERY_CHUNK, Dask $DASK_CHUNK, Gearman $GEARMAN_CHUNK
versions=mosquitto $(ver mosquitto), Celery $(ver python3-celery) with redis-server $(ver redis-server), gearmand $(ver gearman-job-server), Dask distributed $(ver python3-distributed), Python $("$PY" -c 'import platform; print(platform.python_version())')
seconds=$((SECONDS - START_S))
EOF
# Kept beside the build, so the table can be looked into after the run.
mkdir -p "$BUILD/compare-last"
cp "$RESULTS" "$NOTES" "$TMP/status.tsv" "$TMP/meta.txt" "$TMP"/*.out "$TMP"/*.err \
    "$BUILD/compare-last/" 2>/dev/null || true
"$PY" "$HERE/write_table.py" --results "$RESULTS" --status "$TMP/status.tsv" \
    --notes "$NOTES" --meta "$TMP/meta.txt" >"$TMP/section.md"
cat "$TMP/section.md"
[ "$WRITE_DOC" = 1 ] || exit 0

[ -f "$DOC" ] || printf '# floret benchmarks\n\n' >"$DOC"
if grep -q '^<!-- compare:begin' "$DOC"; then
    awk -v sec="$TMP/section.md" '
        /^<!-- compare:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
        /^<!-- compare:end/ { skip = 0; next }
        !skip { print }' "$DOC" >"$TMP/doc.md"
else
    { cat "$DOC"; echo; cat "$TMP/section.md"; } >"$TMP/doc.md"
fi
cp "$TMP/doc.md" "$DOC"
log "updated $DOC"
