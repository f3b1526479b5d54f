#!/usr/bin/env bash
# mandelbrot_show.sh - what showing the tiles on dashboards costs a
# `floret mandelbrot` run (docs/protocol.md 3.15): the same picture,
# alternately, with a build before the feature (BEFORE, optional), with
# --no-show, showing with nobody watching, and with a dashboard beside
# (`floret local --dashboard-listen`; it asks every node for its task
# events) without and with showing, each run on a `floret local -n 2` of
# its own. Prints the median and min-max of the seconds the command
# reports for each, the ratio to --no-show, and the median CPU seconds
# (user + system) of the mandelbrot process itself, which a loaded machine
# disturbs less than the wall clock.
#
#   bench/mandelbrot_show.sh [--runs N] [--size WxH] [--before FLORET] FLORET
#
# Every run is under a timeout; nothing leaves 127.0.0.1. Depends on bash,
# awk, sort, /usr/bin/time (Debian's time) and a floret binary (with
# mosquitto for floret local).
set -euo pipefail

RUNS=7
SIZE=2560x1600
BEFORE=
while [[ $# -gt 1 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --before) BEFORE=$2; shift 2 ;;
    *) echo "mandelbrot_show: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $# -eq 1 ]] || { sed -n '2,14p' "$0"; exit 2; }
FLORET=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/floret-mandel-show.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
unset FLORET_BROKER

one() { # name, floret binary, local options, mandelbrot options
  local name=$1 bin=$2 lopts=$3 mopts=$4 out
  # shellcheck disable=SC2086
  out=$(timeout 300 "$bin" local -n 2 $lopts -- /usr/bin/time -f "cpu %U %S" \
        "$bin" mandelbrot --size "$SIZE" $mopts -o "$TMP/m.png" 2>&1 </dev/null) ||
    { echo "$name failed: $out" >&2; exit 1; }
  sed -n 's/.* in \([0-9.]*\) s -> .*/\1/p' <<<"$out" >>"$TMP/$name"
  awk '$1 == "cpu" {print $2 + $3}' <<<"$out" >>"$TMP/$name.cpu"
}

for ((i = 0; i < RUNS; i++)); do
  [[ -n "$BEFORE" ]] && one before "$BEFORE" "" ""
  one no-show "$FLORET" "" "--no-show"
  one show "$FLORET" "" ""
  one no-show+dashboard "$FLORET" "--dashboard-listen 127.0.0.1:0" "--no-show"
  one show+dashboard "$FLORET" "--dashboard-listen 127.0.0.1:0" ""
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}'; }
read -r base _ _ < <(median "$TMP/no-show")
echo "floret mandelbrot --size $SIZE on floret local -n 2, $RUNS runs each, alternating"
printf '%-18s %10s %14s %8s %8s\n' run "median s" "min-max s" ratio "cpu s"
for name in before no-show show no-show+dashboard show+dashboard; do
  [[ -f "$TMP/$name" ]] || continue
  read -r med lo hi < <(median "$TMP/$name")
  read -r cpu _ _ < <(median "$TMP/$name.cpu")
  printf '%-18s %10s %14s %8.2f %8s\n' "$name" "$med" "$lo-$hi" \
    "$(awk -v a="$med" -v b="$base" 'BEGIN{print a/b}')" "$cpu"
done
