#!/bin/sh
# Fuzz the codec: configure a clang build with FLORET_FUZZ=ON in its own
# build directory, build fuzz_codec and run it for SECONDS (default 60)
# with inputs up to 64 KiB, starting from the seed corpus. Exits non-zero
# when the fuzzer finds a crash, a leak or a broken round trip; the
# reproducer is written to $BUILD/fuzz-artifacts/ and can be replayed with
#   $BUILD/tests/fuzz/fuzz_codec_replay $BUILD/fuzz-artifacts/crash-...
# Usage: tests/fuzz/run.sh [SECONDS]   (FLORET_FUZZ_BUILD overrides the
# build directory, default build-fuzz/ at the top of the tree)
set -eu

DURATION=${1:-60}
case $DURATION in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FLORET_FUZZ_BUILD:-$ROOT/build-fuzz}

timeout 600 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang \
  -DFLORET_FUZZ=ON -DFLORET_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
timeout 900 cmake --build "$BUILD" -j2 --target fuzz_codec fuzz_codec_replay

mkdir -p "$BUILD/fuzz-corpus" "$BUILD/fuzz-artifacts"
# The first directory receives new inputs; the seeds are only read.
status=0
timeout $((DURATION + 120)) "$BUILD/tests/fuzz/fuzz_codec" \
  -max_total_time="$DURATION" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$BUILD/fuzz-artifacts/" -print_final_stats=1 \
  "$BUILD/fuzz-corpus" "$ROOT/tests/fuzz/corpus" || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz_codec failed (exit $status); reproducers in $BUILD/fuzz-artifacts/" >&2
  exit 1
fi
echo "fuzz_codec: no failure in ${DURATION}s"
