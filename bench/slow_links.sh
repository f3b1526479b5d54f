#!/usr/bin/env bash
# slow_links.sh - the word count through the broker over slow links, like
# Wi-Fi, with and without compressed attachments, side by side in one run.
#
# As root it creates 4 network namespaces, each joined to the host by a veth
# pair whose two ends are both shaped with
#   tc qdisc add dev X root tbf rate 20mbit burst 32kbit latency 400ms
# (both directions: the egress of each end; this kernel has tbf, not netem),
# starts Mosquitto on the host (listening on the host ends of the veths and
# on loopback only), one `floret node --slots 1 --compress zstd,lz4` in each
# namespace (it compresses its partial counts for a client that lists a
# codec), and runs
#   floret wordcount --broker mqtt://127.0.0.1:PORT --no-locality --json CORPUS
# from the host, so every chunk crosses a shaped link to a node and every
# partial count crosses one back. Configurations, alternating inside each
# round (the order rotates), median of the rounds:
#   plain   --compress none  (the client lists no codec: nothing compressed,
#                             either way)
#   zstd    --compress zstd
#   lz4     --compress lz4
# Then the same three with the 4 nodes on the host over loopback (no
# shaping), to see what compression costs on a fast path.
# Every run's word and distinct totals are checked against the reference
# pipeline of docs/wordcount.md, and one run per configuration is compared
# with it word for word (--all, cmp). Everything is torn down on exit,
# error or Ctrl-C (trap): namespaces, veths, processes, temp files.
#
# Usage: sudo bench/slow_links.sh [--runs N] [--size BYTES] [--rate RATE]
#          [--build DIR] [--work DIR] [--no-loopback]
#   --runs: rounds (default 5); --size: corpus bytes (default 52428800,
#   50 MiB); --rate: tbf rate (default 20mbit); --build: a build dir with
#   floret (default build/bench, configured Release and built if missing);
#   --work: scratch dir (default: a new one under /tmp, removed at the end).
# Depends on: bash 5, iproute2 (ip, tc) with the tbf qdisc, mosquitto,
# mosquitto-clients (mosquitto_sub, to see the nodes online), coreutils, grep, sed, awk, bench/corpus.sh (Debian packages fortunes and
# base-files).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=5
size=52428800
rate=20mbit
build="$ROOT/build/bench"
work=
loopback=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --no-loopback) loopback=0; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "slow_links.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "slow_links.sh: needs root (network namespaces and tc)" >&2
  exit 2
fi
for tool in ip tc mosquitto mosquitto_sub; do
  command -v "$tool" >/dev/null || { echo "slow_links.sh: $tool not found" >&2; exit 2; }
done
MOSQUITTO=$(command -v mosquitto)

if [[ ! -x "$build/floret" ]]; then
  timeout 900 cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLORET_TESTS=OFF >/dev/null
  timeout 1800 cmake --build "$build" -j 2 --target floret >/dev/null
fi
FLORET="$build/floret"

# Names unique to this run, so that it never meets another's namespaces.
tag="fz$$"
nodes=4
pids=()
made_ns=()
own_work=0
if [[ -z "$work" ]]; then
  work=$(mktemp -d /tmp/floret-slow-links.XXXXXX)
  own_work=1
fi
mkdir -p "$work"

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  pids=()
  for ns in "${made_ns[@]}"; do
    ip netns del "$ns" 2>/dev/null       # takes its veth end, and so the pair
  done
  for i in $(seq "$nodes"); do
    ip link del "${tag}h$i" 2>/dev/null
  done
  made_ns=()
  if [[ $own_work -eq 1 ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A 10.X.0.0/16 no route on this machine uses yet.
pick_net() {
  local x
  for x in $(seq 200 250) $(seq 100 199); do
    if ! ip -4 route | grep -q "^10\.$x\." && ! ip -4 addr | grep -q " 10\.$x\."; then
      echo "$x"; return 0
    fi
  done
  echo "slow_links.sh: no free 10.X.0.0/16 for the links" >&2
  return 1
}

echo "== corpus"
corpus="$work/corpus.txt"
bash "$ROOT/bench/corpus.sh" --size "$size" "$corpus"
bytes=$(stat -c %s "$corpus")
echo "== reference counts (docs/wordcount.md pipeline)"
LC_ALL=C tr -cs 'A-Za-z0-9\200-\377' '\n' < "$corpus" | tr 'A-Z' 'a-z' | grep -v '^$' \
  | LC_ALL=C sort | LC_ALL=C uniq -c > "$work/reference.txt"
ref_words=$(awk '{s += $1} END {print s}' "$work/reference.txt")
ref_distinct=$(wc -l < "$work/reference.txt")
echo "words $ref_words distinct $ref_distinct"

net=$(pick_net)
port=$(( 20000 + $$ % 20000 ))
conf="$work/mosquitto.conf"
{
  echo "listener $port 127.0.0.1"
  for i in $(seq "$nodes"); do echo "listener $port 10.$net.$i.1"; done
  echo "allow_anonymous true"
  echo "persistence false"
  echo "max_queued_messages 100000"
  echo "set_tcp_nodelay true"
  echo "log_dest file $work/mosquitto.log"
  echo "user root"
} > "$conf"

shaped_links() {
  for i in $(seq "$nodes"); do
    local ns="${tag}n$i" h="${tag}h$i" n="${tag}v$i"
    ip netns add "$ns"
    made_ns+=("$ns")
    ip link add "$h" type veth peer name "$n"
    ip link set "$n" netns "$ns"
    ip addr add "10.$net.$i.1/24" dev "$h"
    ip link set "$h" up
    ip -n "$ns" addr add "10.$net.$i.2/24" dev "$n"
    ip -n "$ns" link set "$n" up
    ip -n "$ns" link set lo up
    tc qdisc add dev "$h" root tbf rate "$rate" burst 32kbit latency 400ms
    ip netns exec "$ns" tc qdisc add dev "$n" root tbf rate "$rate" burst 32kbit latency 400ms
  done
}

start_broker() {
  "$MOSQUITTO" -c "$conf" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "slow_links.sh: mosquitto did not start (see $work/mosquitto.log)" >&2
  return 1
}

# start_nodes shaped|loopback: one 1-slot node per host.
start_nodes() {
  for i in $(seq "$nodes"); do
    if [[ $1 == shaped ]]; then
      ip netns exec "${tag}n$i" "$FLORET" node --broker "mqtt://10.$net.$i.1:$port" \
        --name "slow$i" --slots 1 --compress zstd,lz4 > "$work/node$i.log" 2>&1 &
    else
      "$FLORET" node --broker "mqtt://127.0.0.1:$port" --name "fast$i" --slots 1 --compress zstd,lz4 \
        > "$work/node$i.log" 2>&1 &
    fi
    pids+=($!)
  done
  # Online when their retained presences all say so.
  local want=slow
  [[ $1 == shaped ]] || want=fast
  for _ in $(seq 100); do
    local n
    n=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$port" -t 'floret/v1/default/node/+' \
          -W 1 2>/dev/null | grep -c "\"from\":\"$want[0-9]*\".*\"state\":\"online\"" || true)
    [[ $n -ge $nodes ]] && return 0
    sleep 0.2
  done
  echo "slow_links.sh: nodes did not come online" >&2
  return 1
}

stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

# One timed run: prints "elapsed_s" after checking the totals.
run_one() {
  local mode=$1 out
  out=$(timeout 600 "$FLORET" wordcount --broker "mqtt://127.0.0.1:$port" --no-locality \
          --compress "$mode" --json "$corpus")
  local w d e
  w=$(sed -n 's/.*"words":\([0-9]*\).*/\1/p' <<< "$out")
  d=$(sed -n 's/.*"distinct":\([0-9]*\).*/\1/p' <<< "$out")
  e=$(sed -n 's/.*"elapsed_s":\([0-9.]*\).*/\1/p' <<< "$out")
  if [[ "$w" != "$ref_words" || "$d" != "$ref_distinct" ]]; then
    echo "slow_links.sh: $mode counted $w words, $d distinct; the reference $ref_words, $ref_distinct" >&2
    return 1
  fi
  echo "$e"
}

exact_check() {
  local mode=$1
  timeout 600 "$FLORET" wordcount --broker "mqtt://127.0.0.1:$port" --no-locality \
    --compress "$mode" --all "$corpus" | cmp -s - "$work/reference.txt" || {
    echo "slow_links.sh: $mode: counts differ from the reference pipeline" >&2
    return 1
  }
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

modes=(none zstd lz4)
# phase NAME: rounds of the three modes, rotating; then the table rows.
phase() {
  local name=$1
  declare -A times=()
  for m in "${modes[@]}"; do exact_check "$m"; done
  echo "exact: ${modes[*]} match the reference word for word"
  for r in $(seq "$runs"); do
    local line="round $r:"
    for k in $(seq 0 $(( ${#modes[@]} - 1 ))); do
      local m=${modes[$(( (k + r) % ${#modes[@]} ))]}
      local e
      e=$(run_one "$m")
      times[$m]+="$e "
      line+=" $m ${e}s"
    done
    echo "$line"
  done
  local base
  base=$(tr ' ' '\n' <<< "${times[none]}" | grep . | median)
  printf '%-9s %-6s %10s %10s %8s\n' links codec "median s" "MB/s" "speedup"
  for m in "${modes[@]}"; do
    local med
    med=$(tr ' ' '\n' <<< "${times[$m]}" | grep . | median)
    awk -v l="$name" -v m="$m" -v t="$med" -v b="$bytes" -v base="$base" \
      'BEGIN {printf "%-9s %-6s %10.3f %10.1f %7.2fx\n", l, (m == "none" ? "plain" : m), t, b / t / 1e6, base / t}' \
      | tee -a "$work/table.txt"
  done
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "== corpus: $bytes bytes; $runs rounds; links $nodes x $rate (tbf burst 32kbit latency 400ms, both ways)"
shaped_links
start_broker
start_nodes shaped
echo "== shaped links"
phase shaped
stop_all
if [[ $loopback -eq 1 ]]; then
  start_broker
  start_nodes loopback
  echo "== loopback (no shaping), same 4 nodes on the host"
  phase loopback
  stop_all
fi
echo "== summary"
cat "$work/table.txt"
