#!/usr/bin/env bash
# ab.sh - before/after of a change in one run: builds two commits (Release,
# each in a git worktree of its own under --work), starts one `floret local
# -n 2` cluster from the AFTER build, and runs the client workload of each
# build in turn, alternating, --runs times. Per run it prints the wall time,
# the client's CPU time and its minor page faults, then the median of each.
# Alternating in one run is what makes the comparison fair on a noisy
# machine; the cluster is shared, so only the client's code differs.
#
#   bench/ab.sh [--runs N] [--work DIR] BEFORE AFTER wordcount [ARGS...]
#       floret wordcount --quiet ARGS... (e.g. --no-locality CORPUS)
#   bench/ab.sh [--runs N] [--work DIR] BEFORE AFTER throughput [ARGS...]
#       bench/throughput --rounds 0 --nodes 2 ARGS... (e.g. --count 10000)
#
# BEFORE and AFTER are commits (anything git rev-parse takes). The worktrees
# are removed on exit; the builds stay in --work (default /tmp/floret-ab)
# to be reused. Depends on bash, git, cmake, GNU time (/usr/bin/time), awk.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=7
work=/tmp/floret-ab
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[[ $# -ge 3 ]] || { sed -n '2,17p' "$0" >&2; exit 2; }
before=$(git -C "$ROOT" rev-parse --short "$1")
after=$(git -C "$ROOT" rev-parse --short "$2")
what=$3
shift 3
args=("$@")
case "$what" in wordcount|throughput) ;; *) echo "ab.sh: workload is wordcount or throughput" >&2; exit 2 ;; esac
[[ -x /usr/bin/time ]] || { echo "ab.sh: needs GNU time (apt-get install time)" >&2; exit 1; }

mkdir -p "$work"
trees=()
cleanup() {
  local t
  for t in "${trees[@]}"; do git -C "$ROOT" worktree remove --force "$t" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# build COMMIT: a Release build of COMMIT in $work/build-COMMIT.
build() {
  local c=$1 tree="$work/src-$1" b="$work/build-$1"
  if [[ ! -x "$b/floret" || ! -x "$b/bench/throughput" ]]; then
    git -C "$ROOT" worktree add --force --detach "$tree" "$c" >/dev/null
    trees+=("$tree")
    timeout 900 cmake -S "$tree" -B "$b" -DCMAKE_BUILD_TYPE=Release >/dev/null
    timeout 1800 cmake --build "$b" -j 2 --target floret throughput >/dev/null
  fi
}
echo "== building $before and $after"
build "$before"
build "$after"

# The client side of one run, timed; runs inside the cluster (FLORET_BROKER set).
cat >"$work/one.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
b=$1 what=$2; shift 2
t0=$EPOCHREALTIME
if [[ $what == wordcount ]]; then
  /usr/bin/time -f '%U %S %R' -o "$AB_TIME" "$b/floret" wordcount --quiet "$@" >/dev/null
else
  /usr/bin/time -f '%U %S %R' -o "$AB_TIME" "$b/bench/throughput" --rounds 0 --nodes 2 "$@" >/dev/null
fi
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" '{printf "%.4f %.2f %d\n", b - a, $1 + $2, $3}' "$AB_TIME"
EOF
cat >"$work/rounds.sh" <<'EOF'
#!/usr/bin/env bash
# rounds.sh RUNS WHAT BEFORE_BUILD AFTER_BUILD ARGS...
set -euo pipefail
runs=$1 what=$2 bb=$3 ab=$4; shift 4
here=$(dirname "$0")
for ((i = 0; i < runs; i++)); do
  for side in before after; do
    b=$bb; [[ $side == after ]] && b=$ab
    echo "$side $(AB_TIME="$here/time.$side" "$here/one.sh" "$b" "$what" "$@")"
  done
done
EOF
chmod +x "$work/one.sh" "$work/rounds.sh"

echo "== $runs alternating runs of $what ${*:-} (cluster: floret local -n 2 from $after)"
timeout 1800 "$work/build-$after/floret" local -n 2 -- \
  "$work/rounds.sh" "$runs" "$what" "$work/build-$before" "$work/build-$after" "$@" | tee "$work/runs.txt"

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo
echo "| build | wall s, median (min-max) | client CPU s, median (min-max) | client page faults, median (min-max) |"
echo "| --- | ---: | ---: | ---: |"
for side in before after; do
  c=$before; [[ $side == after ]] && c=$after
  row="| $side ($c)"
  for col in 2 3 4; do
    vals=$(awk -v s="$side" -v k="$col" '$1 == s {print $k}' "$work/runs.txt")
    row+=" | $(median <<<"$vals") ($(sort -g <<<"$vals" | head -1)-$(sort -g <<<"$vals" | tail -1))"
  done
  echo "$row |"
done
echo
echo "command: bench/ab.sh --runs $runs $before $after $what ${args[*]:-}"
