#!/usr/bin/env bash
# run_canvas_bench.sh - large workflows on a private local cluster: builds
# Release, then runs bench/canvas inside `floret local -n 2` (a private
# mosquitto and two nodes, torn down after each run) --runs times: a chord
# of 10,000 add into xsum and a group of 100,000 add, each answer checked.
# Prints median and min-max of the wall times and of the owner's peak RSS,
# and rewrites the canvas section of docs/benchmarks.md.
# Depends on bash, cmake, mosquitto, awk, sort and bench/canvas.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-bench"
DOC="$ROOT/docs/benchmarks.md"
RUNS=5
CHORD=10000
GROUP=100000
WRITE_DOC=1
COMMAND="bench/run_canvas_bench.sh${*:+ $*}"

while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --chord) CHORD=$2; shift 2 ;;
    --group) GROUP=$2; shift 2 ;;
    --no-doc) WRITE_DOC=0; shift ;;
    -h|--help)
        echo "usage: bench/run_canvas_bench.sh [--runs N] [--chord N] [--group N] [--no-doc]"
        exit 0 ;;
    *) echo "run_canvas_bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
for n in "$RUNS" "$CHORD" "$GROUP"; do
    case "$n" in ''|*[!0-9]*) echo "run_canvas_bench: not a number: $n" >&2; exit 2 ;; esac
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/floret-canvasbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "run_canvas_bench: building Release in $BUILD" >&2
timeout 600 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
    { cat "$TMP/cmake.log" >&2; exit 1; }
timeout 1800 cmake --build "$BUILD" -j2 --target floret canvas >"$TMP/build.log" 2>&1 ||
    { tail -40 "$TMP/build.log" >&2; exit 1; }

for r in $(seq 1 "$RUNS"); do
    timeout 900 "$BUILD/floret" local -n 2 -- "$BUILD/bench/canvas" \
        --chord "$CHORD" --group "$GROUP" >"$TMP/run$r.out"
    cat "$TMP/run$r.out" >&2
done

# field W K: the values of key K on the lines of workflow W, one per run
field() { cat "$TMP"/run*.out | awk -v w="$1" -v k="$2" '$1 == "workflow=" w {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }'; }
stat() { sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s (%s–%s)", m, v[1], v[NR] }'; }

CHORD_S=$(field chord wall_s | stat)
GROUP_S=$(field group wall_s | stat)
GROUP_TPS=$(field group tasks_per_s | stat)
RSS0=$(field group peak_rss_before_kib | awk '{ printf "%.1f\n", $1 / 1024 }' | stat)
RSS=$(field group peak_rss_kib | awk '{ printf "%.1f\n", $1 / 1024 }' | stat)
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)

{
    echo "<!-- canvas-bench:begin (written by bench/run_canvas_bench.sh; edits here are overwritten) -->"
    echo "## Large workflows"
    echo
    echo "\`$COMMAND\` on $(date -u +%Y-%m-%d), $(nproc) cores ($CPU), shared machine;"
    echo "\`floret local -n 2\` (one slot per node), owner = the bench process; median (min–max) of $RUNS runs."
    echo
    echo "| workflow | wall time (s) | tasks/s | owner peak RSS (MiB) |"
    echo "| --- | --- | --- | --- |"
    echo "| chord of $CHORD \`add\` into \`xsum\` | $CHORD_S | | |"
    echo "| group of $GROUP \`add\` | $GROUP_S | $GROUP_TPS | $RSS (before: $RSS0) |"
    echo
    echo "Every answer is checked (the chord's sum, every member of the group)."
    echo "The owner holds every task of a workflow from the start, so its memory"
    echo "grows with the workflow (about 0.9 KB per task here), not with the input data."
    echo "<!-- canvas-bench:end -->"
} >"$TMP/section.md"
cat "$TMP/section.md"

[ "$WRITE_DOC" = 1 ] || exit 0
if grep -q '^<!-- canvas-bench:begin' "$DOC"; then
    awk -v sec="$TMP/section.md" '
        /^<!-- canvas-bench:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
        /^<!-- canvas-bench:end/ { skip = 0; next }
        !skip' "$DOC" >"$TMP/doc.md"
    cp "$TMP/doc.md" "$DOC"
else
    { echo; cat "$TMP/section.md"; } >>"$DOC"
fi
echo "run_canvas_bench: updated $DOC" >&2
