#!/usr/bin/env bash
# test.sh - the one command that sets up and passes floret's whole test suite:
# installs the Debian packages (deps.sh), builds with gcc and clang as
# -Werror, runs ctest on the gcc build, builds with ASan+UBSan (clang) and
# runs ctest there, then fuzzes the codec for a bounded time when
# tests/fuzz/run.sh exists. Exits non-zero on any failure and closes with
# "N passed, N failed" counting the suites (build and test steps) it ran.
#
# Build directories live under $FLORET_BUILD_ROOT (default: build/).
# Depends on bash, cmake, ctest and the scripts beside it.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_ROOT=${FLORET_BUILD_ROOT:-$ROOT/build}
JOBS=${FLORET_JOBS:-2}
TEST_TIMEOUT=${FLORET_TEST_TIMEOUT:-300}
FUZZ_SECONDS=${FLORET_FUZZ_SECONDS:-60}
cd "$ROOT"

passed=0
failed=0
results=()

# step NAME COMMAND...: run one suite, bounded by the caller's own timeouts.
step() {
  local name=$1
  shift
  local start=$SECONDS
  echo
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    results+=("PASS  $name ($((SECONDS - start)) s)")
  else
    failed=$((failed + 1))
    results+=("FAIL  $name ($((SECONDS - start)) s)")
  fi
}

# A step that cannot run because the one it needs failed.
not_run() {
  failed=$((failed + 1))
  results+=("FAIL  $1 (not run: $2 failed)")
}

summary() {
  echo
  echo "=== summary"
  local r
  for r in "${results[@]}"; do
    echo "$r"
  done
  echo "$passed passed, $failed failed"
}

build() {
  local dir=$1 cc=$2
  shift 2
  timeout 900 cmake -S "$ROOT" -B "$BUILD_ROOT/$dir" -DCMAKE_C_COMPILER="$cc" \
      -DFLORET_WERROR=ON "$@" &&
    timeout 1200 cmake --build "$BUILD_ROOT/$dir" -j "$JOBS"
}

run_ctest() {
  local dir=$1
  timeout 1500 ctest --test-dir "$BUILD_ROOT/$dir" --output-on-failure \
    --no-tests=error --timeout "$TEST_TIMEOUT"
}

run_fuzz() {
  timeout $((FUZZ_SECONDS + 600)) bash "$ROOT/tests/fuzz/run.sh" "$FUZZ_SECONDS"
}

if ! step "deps (scripts/deps.sh)" bash "$ROOT/scripts/deps.sh"; then
  summary
  exit 1
fi

if step "build gcc -Werror" build gcc gcc; then
  step "ctest (gcc)" run_ctest gcc
else
  not_run "ctest (gcc)" "build gcc"
fi

step "build clang -Werror" build clang clang

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if step "build clang ASan+UBSan" build asan clang -DFLORET_SANITIZE=ON -DFLORET_BENCH=OFF; then
  step "ctest (ASan+UBSan)" run_ctest asan
else
  not_run "ctest (ASan+UBSan)" "build clang ASan+UBSan"
fi

if [[ -f "$ROOT/tests/fuzz/run.sh" ]]; then
  export FLORET_FUZZ_BUILD=$BUILD_ROOT/fuzz
  step "fuzz codec (${FUZZ_SECONDS} s)" run_fuzz
fi

summary
[[ $failed -eq 0 ]]
