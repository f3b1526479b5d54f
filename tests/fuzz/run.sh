#!/bin/sh
# Fuzz the codec: configure a clang build with FLORET_FUZZ=ON in its own
# build directory, build fuzz_codec and run it for SECONDS (default 60)
# with inputs up to 64 KiB, starting from the seed corpus. Exits non-zero
# when the fuzzer finds a crash, a leak or a broken round trip; the
# reproducer is written to $BUILD/fuzz-artifacts/ and can be replayed with
#   $BUILD/tests/fuzz/fuzz_codec_replay $BUILD/fuzz-artifacts/crash-...
# With RUNS, it stops after RUNS executions instead, SECONDS being only the
# bound, and fails unless all RUNS ran (the benchmark run of
# docs/benchmarks.md: tests/fuzz/run.sh 5400 10000000).
# Usage: tests/fuzz/run.sh [SECONDS [RUNS]]   (FLORET_FUZZ_BUILD overrides
# the build directory, default build-fuzz/ at the top of the tree;
# FLORET_FUZZ_MAX_LEN the largest input, default 65536)
set -eu

DURATION=${1:-60}
RUNS=${2:-0}
MAX_LEN=${FLORET_FUZZ_MAX_LEN:-65536}
case $DURATION$RUNS$MAX_LEN in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS [RUNS]]" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FLORET_FUZZ_BUILD:-$ROOT/build-fuzz}

timeout 600 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang \
  -DFLORET_FUZZ=ON -DFLORET_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
timeout 900 cmake --build "$BUILD" -j2 --target fuzz_codec fuzz_codec_replay

mkdir -p "$BUILD/fuzz-corpus" "$BUILD/fuzz-artifacts"
# The first directory receives new inputs; the seeds are only read.
status=0
log="$BUILD/fuzz-last.log"
start=$(date +%s)
timeout $((DURATION + 120)) "$BUILD/tests/fuzz/fuzz_codec" \
  -max_total_time="$DURATION" -runs="$( [ "$RUNS" -gt 0 ] && echo "$RUNS" || echo -1)" \
  -max_len="$MAX_LEN" -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$BUILD/fuzz-artifacts/" -print_final_stats=1 \
  "$BUILD/fuzz-corpus" "$ROOT/tests/fuzz/corpus" >"$log" 2>&1 || status=$?
# The log without the line per new or reduced input.
grep -v -e '^#[0-9]*[[:space:]]*NEW' -e '^#[0-9]*[[:space:]]*REDUCE' "$log" || true
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
elapsed=$(( $(date +%s) - start ))
if [ "$status" -ne 0 ] || [ -z "$execs" ]; then
  echo "fuzz_codec failed (exit $status); reproducers in $BUILD/fuzz-artifacts/, log $log" >&2
  exit 1
fi
if [ "$RUNS" -gt 0 ] && [ "$execs" -lt "$RUNS" ]; then
  echo "fuzz_codec: only $execs of $RUNS executions in ${DURATION}s" >&2
  exit 1
fi
echo "fuzz_codec: no failure in $execs executions, ${elapsed}s"
