#!/usr/bin/env bash
# wordcount.sh - the word-count benchmark: MB/s of `floret wordcount` side by
# side with its peers, in one run, on the same real-text corpus.
#
#   reference   the pipeline of docs/wordcount.md (tr | tr | grep | sort | uniq -c)
#   wc_single   single-threaded C counter, same tokenizer and table (bench/wc_single.c)
#   map alone   the map task itself on one core, chunk by chunk, as a node
#               runs it (bench/wc_map.c), timed inside the program (the task's
#               runs only), one run per round: wc.file on 16 MiB chunks by
#               reference (the task reads the file) and wc.map on 4 MiB
#               chunks held in memory as a received attachment
#   floret N    `floret wordcount --quiet FILE` against an already running
#               `floret local -n N` (N = 1, 2), with locality and with
#               --no-locality (every chunk's bytes cross the broker)
#   embedded    `floret wordcount --quiet FILE` with no broker configured:
#               starts and stops its private cluster (one node per core)
#
# Every timing is the wall time of the whole command. The configurations
# alternate inside each round (the order rotates) and the table gives the
# median of the rounds, so a shared, noisy machine hurts all of them alike.
# Each floret run's word total is checked against wc_single's.
#
# Usage: bench/wordcount.sh [--runs N] [--build DIR] [--work DIR] [--size BYTES]
#   --build: a build dir with floret, bench/wc_single and bench/wc_map
#            (default: build/bench, configured Release and built if missing)
#   --work:  where the corpus goes (default: /tmp/floret-bench-wc)
# Depends on: bash 5, cmake, coreutils, grep, awk, taskset (util-linux),
# bench/corpus.sh (Debian packages fortunes and base-files for the text),
# bench/local_clusters.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=5
build="$ROOT/build/bench"
work=/tmp/floret-bench-wc
size=104857600
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "wordcount.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [[ ! -x "$build/floret" || ! -x "$build/bench/wc_single" || ! -x "$build/bench/wc_map" ]]; then
  timeout 900 cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLORET_TESTS=OFF >/dev/null
  timeout 1800 cmake --build "$build" -j 2 --target floret wc_single wc_map >/dev/null
fi
FLORET="$build/floret"
WC_SINGLE="$build/bench/wc_single"
WC_MAP="$build/bench/wc_map"

mkdir -p "$work"
corpus="$work/corpus.txt"
echo "== corpus"
bash "$ROOT/bench/corpus.sh" --size "$size" "$corpus"
bytes=$(stat -c %s "$corpus")
cat "$corpus" > /dev/null # in the page cache for everyone

# Two running clusters, torn down on every exit path; their nodes may read
# the corpus by reference (wc.file reads only below FLORET_DATA_DIRS).
export FLORET_DATA_DIRS="$work"
source "$ROOT/bench/local_clusters.sh"
trap local_clusters_stop EXIT
local_cluster_start BROKER_1 "$FLORET" 1 "$work/local-1.out"
local_cluster_start BROKER_2 "$FLORET" 2 "$work/local-2.out"

want_words=$("$WC_SINGLE" "$corpus" | awk '$1 == "words" {print $2}')

# wc_single pinned to each CPU in turn. On a shared host the cores need not
# be equally fast, and N nodes can reach at most the sum of the cores'
# speeds over the speed of the one wc_single ran on.
core_speeds() {
  command -v taskset >/dev/null || { echo "(taskset missing: not measured)"; return; }
  local c out=""
  for ((c = 0; c < $(nproc); c++)); do
    out+="cpu$c $(taskset -c "$c" "$WC_SINGLE" "$corpus" | awk '$1 == "throughput" {print $2}') MB/s, "
  done
  echo "${out%, }"
}
speeds_start=$(core_speeds)

# One timed command; appends its wall seconds to the list named $1.
timed() {
  local list="$1"
  shift
  local t0=$EPOCHREALTIME
  "$@" > "$work/out" 2> "$work/err" || { echo "failed: $*"; cat "$work/err"; exit 1; }
  local t1=$EPOCHREALTIME
  eval "$list+=(\$(awk -v a=$t0 -v b=$t1 'BEGIN {printf \"%.4f\", b - a}'))"
}

reference() {
  LC_ALL=C tr -cs 'A-Za-z0-9\200-\377' '\n' < "$corpus" | LC_ALL=C tr 'A-Z' 'a-z' |
    LC_ALL=C grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c
}
check_words() {
  local got
  got=$(awk '$1 == "words" {print $2}' "$work/out")
  [[ "$got" == "$want_words" ]] || { echo "wrong count: $got, want $want_words"; exit 1; }
}

configs=(reference single f1_loc f1_bytes f2_loc f2_bytes embedded map16 map4)
declare -A label=(
  [reference]="reference pipeline (tr, sort, uniq -c)"
  [single]="wc_single, 1 thread"
  [f1_loc]="floret, 1 node, locality"
  [f1_bytes]="floret, 1 node, --no-locality"
  [f2_loc]="floret, 2 nodes, locality"
  [f2_bytes]="floret, 2 nodes, --no-locality"
  [embedded]="floret, embedded default (cluster start included)"
  [map16]="map task alone, 1 core, wc.file on 16 MiB chunks by reference (bench/wc_map, its own timer)"
  [map4]="map task alone, 1 core, wc.map on 4 MiB chunks as bytes (bench/wc_map, its own timer)"
)
for c in "${configs[@]}"; do declare -a "t_$c=()"; done

# The map task's own time for one pass over the corpus in chunks of $2
# bytes, $1 = ref (wc.file) or bytes (wc.map): floret wordcount's largest
# chunks are 16 MiB by reference and 4 MiB as bytes.
map_alone() {
  "$WC_MAP" --as "$1" --chunk "$2" --repeat 1 "$corpus" | sed -n 's/^map .*(\([0-9.]*\) s,.*/\1/p'
}

run_config() {
  # The page cache again, untimed: a machine may evict cold file pages
  # between two runs (this one runs DAMON's proactive pageout), and every
  # configuration is meant to read the corpus from memory.
  cat "$corpus" > /dev/null
  case "$1" in
    reference) timed t_reference reference ;;
    single) timed t_single "$WC_SINGLE" "$corpus" ;;
    f1_loc) timed t_f1_loc env FLORET_BROKER="$BROKER_1" "$FLORET" wordcount --quiet "$corpus"; check_words ;;
    f1_bytes) timed t_f1_bytes env FLORET_BROKER="$BROKER_1" "$FLORET" wordcount --quiet --no-locality "$corpus"; check_words ;;
    f2_loc) timed t_f2_loc env FLORET_BROKER="$BROKER_2" "$FLORET" wordcount --quiet "$corpus"; check_words ;;
    f2_bytes) timed t_f2_bytes env FLORET_BROKER="$BROKER_2" "$FLORET" wordcount --quiet --no-locality "$corpus"; check_words ;;
    embedded) timed t_embedded env -u FLORET_BROKER "$FLORET" wordcount --quiet "$corpus"; check_words ;;
    map16) t_map16+=("$(map_alone ref 16777216)") ;;
    map4) t_map4+=("$(map_alone bytes 4194304)") ;;
  esac
}

echo "== $runs rounds of ${#configs[@]} configurations, $bytes bytes"
n=${#configs[@]}
for ((r = 0; r < runs; r++)); do
  for ((k = 0; k < n; k++)); do
    run_config "${configs[$(( (k + r) % n ))]}"
  done
  echo "round $((r + 1)) done (load $(cut -d' ' -f1-3 /proc/loadavg))"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

merge_line=$("$WC_MAP" --repeat "$runs" "$corpus" | grep '^merge')

single_med=$(eval median "\${t_single[@]}")
echo
echo "== results (median of $runs; MB = 10^6 bytes; ratio = MB/s over wc_single's)"
echo
echo "| configuration | median s | MB/s | vs wc_single |"
echo "| --- | ---: | ---: | ---: |"
for c in "${configs[@]}"; do
  med=$(eval median "\${t_$c[@]}")
  awk -v l="${label[$c]}" -v m="$med" -v b="$bytes" -v s="$single_med" \
    'BEGIN {printf "| %s | %.3f | %.1f | %.2fx |\n", l, m, b / 1e6 / m, s / m}'
done
echo
echo "client merge of the partials (bench/wc_map, best of $runs): ${merge_line#merge }"
echo
echo "all times (s):"
for c in "${configs[@]}"; do
  eval echo "\"  $c: \${t_$c[*]}\""
done
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"\
     "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
echo "wc_single pinned to each core: at the start $speeds_start; at the end $(core_speeds)"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg); $("$FLORET" --version)"
echo "command: bench/wordcount.sh --runs $runs"
