#!/usr/bin/env bash
# demo.sh - the first command of the README: installs the Debian packages,
# builds floret, runs a task on a private local cluster (a Mosquitto on a
# free loopback port plus nodes, all torn down at the end), then counts the
# words of Debian's package "fortunes" with `floret wordcount` on the
# embedded local cluster (one node per core).
# Build directory: $FLORET_BUILD_ROOT/release (default: build/release).
# Depends on bash, cmake and the scripts beside it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FLORET_BUILD_ROOT:-$ROOT/build}/release
JOBS=${FLORET_JOBS:-2}

bash "$ROOT/scripts/deps.sh"
timeout 900 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DFLORET_TESTS=OFF -DFLORET_BENCH=OFF >/dev/null
timeout 1200 cmake --build "$BUILD" -j "$JOBS" --target floret

FLORET="$BUILD/floret"
echo
echo "\$ floret local -n 2 -- floret call add 4 4"
"$FLORET" local -n 2 -- floret call add 4 4

# The flagship job on real text: the fortunes of Debian's package
# "fortunes" (installed by deps.sh; ~2.6 MB of quotations and literature),
# counted on the embedded local cluster (no broker configured).
FORTUNES=/usr/share/games/fortunes
mapfile -t texts < <(LC_ALL=C find "$FORTUNES" -maxdepth 1 -type f ! -name '*.dat' | LC_ALL=C sort)
echo
echo "\$ floret wordcount \$(find $FORTUNES -type f ! -name '*.dat')"
env -u FLORET_BROKER "$FLORET" wordcount "${texts[@]}"
