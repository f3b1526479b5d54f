#!/usr/bin/env bash
# demo.sh - the first command of the README: installs the Debian packages,
# builds floret, then runs a job on a private local cluster (a Mosquitto on a
# free loopback port plus one node per core, all torn down at the end).
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
