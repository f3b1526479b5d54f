#!/usr/bin/env bash
# ab.sh - before/after of a change in one run: builds two commits (Release,
# each in a git worktree of its own under --work), starts one `floret local
# -n 2` cluster from the AFTER build, and runs the client workload of each
# build in turn, alternating, --runs times. Per run it prints the wall time,
# the client's CPU time and its minor page faults (and, for throughput, the
# burst's tasks/s as bench/throughput reports it), then the median of each.
# Alternating in one run is what makes the comparison fair on a noisy
# machine; the cluster is shared, so only the client's code differs.
#
#   bench/ab.sh [--runs N] [--work DIR] BEFORE AFTER wordcount [ARGS...]
#       floret wordcount --quiet ARGS... (e.g. --no-locality CORPUS)
#   bench/ab.sh [--runs N] [--work DIR] BEFORE AFTER throughput [ARGS...]
#       bench/throughput --rounds 0 --nodes 2 ARGS... (e.g. --count 10000)
#
# --own-cluster: each build runs against a `floret local -n 2` of its own
# build, started once and warmed up with one untimed run (as
# bench/wordcount.sh's clusters are), so a change to the node or the
# broker's side counts too. The order of the two alternates every round.
#
# BEFORE and AFTER are commits (anything git rev-parse takes). The worktrees
# are removed on exit; the builds stay in --work (default /tmp/floret-ab)
# to be reused. Depends on bash, git, cmake, GNU time (/usr/bin/time), awk,
# bench/local_clusters.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=7
work=/tmp/floret-ab
own=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --own-cluster) own=1; shift ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[[ $# -ge 3 ]] || { sed -n '2,22p' "$0" >&2; exit 2; }
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
rate=-
if [[ $what == wordcount ]]; then
  /usr/bin/time -f '%U %S %R' -o "$AB_TIME" "$b/floret" wordcount --quiet "$@" >/dev/null
else
  out=$(/usr/bin/time -f '%U %S %R' -o "$AB_TIME" "$b/bench/throughput" --rounds 0 --nodes 2 "$@")
  rate=$(sed -n 's/.*tasks_per_s=\([0-9]*\).*/\1/p' <<<"$out")
fi
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" -v r="$rate" '{printf "%.4f %.2f %d %s\n", b - a, $1 + $2, $3, r}' "$AB_TIME"
EOF
cat >"$work/rounds.sh" <<'EOF'
#!/usr/bin/env bash
# rounds.sh RUNS WHAT BEFORE_BUILD AFTER_BUILD ARGS...
set -euo pipefail
runs=$1 what=$2 bb=$3 ab=$4; shift 4
here=$(dirname "$0")
# With AB_OWN=1, each side's client goes to its own cluster ($AB_BROKER_before,
# $AB_BROKER_after), after one untimed run there.
one_side() { # SIDE BUILD ARGS...
  local side=$1 b=$2 broker_var="AB_BROKER_$1"
  shift 2
  if [[ ${AB_OWN:-0} == 1 ]]; then
    FLORET_BROKER=${!broker_var} AB_TIME="$here/time.$side" "$here/one.sh" "$b" "$what" "$@"
  else
    AB_TIME="$here/time.$side" "$here/one.sh" "$b" "$what" "$@"
  fi
}
if [[ ${AB_OWN:-0} == 1 ]]; then
  one_side before "$bb" "$@" >/dev/null
  one_side after "$ab" "$@" >/dev/null
fi
for ((i = 0; i < runs; i++)); do
  order="before after"; ((i % 2)) && order="after before"
  for side in $order; do
    b=$bb; [[ $side == after ]] && b=$ab
    echo "$side $(one_side "$side" "$b" "$@")"
  done
done
EOF
chmod +x "$work/one.sh" "$work/rounds.sh"

# A floret local -n 2 per side, from that side's build (--own-cluster).
# Its nodes read files by reference (wc.file) only below FLORET_DATA_DIRS:
# set it to the corpus's directory to measure the word count with locality.
source "$ROOT/bench/local_clusters.sh"
stop_clusters() {
  local_clusters_stop
  cleanup
}

if [[ $own == 1 ]]; then
  trap stop_clusters EXIT
  local_cluster_start AB_BROKER_before "$work/build-$before/floret" 2 "$work/local-before.out"
  local_cluster_start AB_BROKER_after "$work/build-$after/floret" 2 "$work/local-after.out"
  export AB_BROKER_before AB_BROKER_after
  echo "== $runs alternating runs of $what ${*:-} (each on a floret local -n 2 of its own build)"
  AB_OWN=1 timeout 1800 "$work/rounds.sh" "$runs" "$what" "$work/build-$before" \
    "$work/build-$after" "$@" | tee "$work/runs.txt"
else
  echo "== $runs alternating runs of $what ${*:-} (cluster: floret local -n 2 from $after)"
  timeout 1800 "$work/build-$after/floret" local -n 2 -- \
    "$work/rounds.sh" "$runs" "$what" "$work/build-$before" "$work/build-$after" "$@" | tee "$work/runs.txt"
fi

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo
cols="2 3 4"
head="| build | wall s, median (min-max) | client CPU s, median (min-max) | client page faults, median (min-max) |"
sep="| --- | ---: | ---: | ---: |"
if [[ $what == throughput ]]; then
  cols+=" 5"
  head+=" burst tasks/s, median (min-max) |"
  sep+=" ---: |"
fi
echo "$head"
echo "$sep"
for side in before after; do
  c=$before; [[ $side == after ]] && c=$after
  row="| $side ($c)"
  for col in $cols; do
    vals=$(awk -v s="$side" -v k="$col" '$1 == s {print $k}' "$work/runs.txt")
    row+=" | $(median <<<"$vals") ($(sort -g <<<"$vals" | head -1)-$(sort -g <<<"$vals" | tail -1))"
  done
  echo "$row |"
done
echo
opt=""; [[ $own == 1 ]] && opt=" --own-cluster"
echo "command: bench/ab.sh --runs $runs$opt $before $after $what ${args[*]:-}"
