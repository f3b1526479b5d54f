#!/usr/bin/env bash
# test_wc_single.sh - wc_single's full output (every count) must equal the
# reference pipeline on every kind of input, with several block sizes (the
# chunker at work) and with --min-length.
# Usage: test_wc_single.sh WC_SINGLE CORPUS_SH WORKDIR
# Depends on inputs.sh beside it.
set -uo pipefail

wc_single="$1" corpus_sh="$2" work="$3"
here=$(cd "$(dirname "$0")" && pwd)
source "$here/inputs.sh"
rm -rf "$work" && mkdir -p "$work"
make_inputs "$work/in" "$corpus_sh" || { echo "could not make the inputs"; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0
check() { # name expected-file actual-file
  if cmp -s "$2" "$3"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $1"
    diff "$2" "$3" | head -5
  fi
}

for f in "${INPUTS[@]}"; do
  name=$(basename "$f")
  ref "$f" > "$work/ref"
  ref_min 4 "$f" > "$work/ref4"
  [[ "$name" == empty ]] || [[ -s "$work/ref" ]] || { echo "FAIL: $name: empty reference"; failed=$((failed + 1)); }
  for block in default 7 4096 65536; do
    args=()
    [[ "$block" == default ]] || args=(--block "$block")
    timeout 120 "$wc_single" --all "${args[@]}" "$f" > "$work/out"
    check "$name, block $block" "$work/ref" "$work/out"
    timeout 120 "$wc_single" --all --min-length 4 "${args[@]}" "$f" > "$work/out"
    check "$name, block $block, --min-length 4" "$work/ref4" "$work/out"
  done
done

# Several files, and standard input.
ref "$work/in/no-newline" "$work/in/utf8" "$work/in/nul" > "$work/ref"
timeout 60 "$wc_single" --all "$work/in/no-newline" "$work/in/utf8" "$work/in/nul" > "$work/out"
check "three files" "$work/ref" "$work/out"
ref "$work/in/crlf" > "$work/ref"
timeout 60 "$wc_single" --all - < "$work/in/crlf" > "$work/out"
check "stdin" "$work/ref" "$work/out"

# The summary's totals agree with the full listing.
f="${INPUTS[-1]}"
timeout 120 "$wc_single" --top 3 "$f" > "$work/summary"
words=$(awk '$1 == "words" {print $2}' "$work/summary")
distinct=$(awk '$1 == "distinct" {print $2}' "$work/summary")
ref "$f" > "$work/ref"
echo "$(awk '{s += $1} END {print s + 0}' "$work/ref") $(wc -l < "$work/ref")" > "$work/want"
echo "$words $distinct" > "$work/got"
check "summary totals" "$work/want" "$work/got"

echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
