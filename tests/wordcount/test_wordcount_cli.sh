#!/usr/bin/env bash
# test_wordcount_cli.sh - `floret wordcount --all` must print exactly what the
# reference pipeline prints, on every hostile input and a 5 MiB slice of the
# benchmark corpus: with locality and with --no-locality, with --min-length,
# with a small --chunk (many chunks, and a word longer than the chunk), from
# standard input, for several files at once, and in the embedded default
# (no broker configured). The --json and text reports must agree with the
# reference totals. Runs against a real private cluster of 2 nodes started
# with `floret local`.
# Usage: test_wordcount_cli.sh FLORET CORPUS_SH WORKDIR
# Depends on inputs.sh beside it, bash, coreutils, /usr/bin/python3.
set -uo pipefail

floret="$1" corpus_sh="$2" work="$3"
here=$(cd "$(dirname "$0")" && pwd)

if [[ -z "${FLORET_WC_INSIDE:-}" ]]; then
  rm -rf "$work" && mkdir -p "$work"
  export FLORET_WC_INSIDE=1
  # The nodes may read the inputs by reference: they are all below $work.
  exec timeout 300 "$floret" local -n 2 --data-dir "$work" -- bash "$0" "$@"
fi

source "$here/inputs.sh"
make_inputs "$work/in" "$corpus_sh" || { echo "could not make the inputs"; echo "0 passed, 1 failed"; exit 1; }
[[ -n "${FLORET_BROKER:-}" ]] || { echo "FLORET_BROKER not set by floret local"; exit 1; }

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
run() { # out-file args... : floret wordcount, failing the check on a bad exit
  local out="$1"
  shift
  if ! timeout 120 "$floret" wordcount "$@" > "$out" 2> "$work/stderr"; then
    echo "floret wordcount $* failed:"
    head -5 "$work/stderr"
    echo "(no output)" > "$out"
  fi
}

for f in "${INPUTS[@]}"; do
  name=$(basename "$f")
  ref "$f" > "$work/ref"
  ref_min 4 "$f" > "$work/ref4"
  [[ "$name" == empty ]] || [[ -s "$work/ref" ]] || { echo "FAIL: $name: empty reference"; failed=$((failed + 1)); }
  for mode in locality --no-locality; do
    margs=()
    [[ "$mode" == locality ]] || margs=(--no-locality)
    run "$work/out" --all "${margs[@]}" "$f"
    check "$name, $mode" "$work/ref" "$work/out"
    run "$work/out" --all --min-length 4 "${margs[@]}" "$f"
    check "$name, $mode, --min-length 4" "$work/ref4" "$work/out"
    run "$work/out" --all --chunk 64k "${margs[@]}" "$f"
    check "$name, $mode, --chunk 64k" "$work/ref" "$work/out"
  done
done

# Several files (each ends a word), standard input, and a tiny chunk size.
set3=("$work/in/no-newline" "$work/in/utf8" "$work/in/nul" "$work/in/long-word")
ref "${set3[@]}" > "$work/ref"
run "$work/out" --all "${set3[@]}"
check "four files" "$work/ref" "$work/out"
run "$work/out" --all --chunk 7 "${set3[@]}"
check "four files, --chunk 7" "$work/ref" "$work/out"
ref "$work/in/crlf" > "$work/ref"
timeout 60 "$floret" wordcount --all - < "$work/in/crlf" > "$work/out" 2> "$work/stderr"
check "stdin" "$work/ref" "$work/out"
slice="$work/in/corpus-slice"
ref "$slice" > "$work/ref"
cat "$slice" | timeout 60 "$floret" wordcount --all --chunk 256k > "$work/out" 2> "$work/stderr"
check "corpus slice through a pipe" "$work/ref" "$work/out"

# Random bytes in one 16 MiB chunk: the partial count does not fit in a
# message (ResultTooBig) and the chunk is split; as bytes, it travels in pieces.
/usr/bin/python3 -c 'import random, sys; r = random.Random(7); sys.stdout.buffer.write(r.randbytes(12 << 20))' > "$work/in/random12"
ref "$work/in/random12" > "$work/ref"
run "$work/out" --all --chunk 16M "$work/in/random12"
check "random 12 MiB, --chunk 16M (split)" "$work/ref" "$work/out"
run "$work/out" --all --chunk 16M --no-locality "$work/in/random12"
check "random 12 MiB, --chunk 16M --no-locality (pieces)" "$work/ref" "$work/out"

# The embedded default: no broker configured, a private cluster per run.
ref "$slice" > "$work/ref"
env -u FLORET_BROKER timeout 120 "$floret" wordcount --all "$slice" > "$work/out" 2> "$work/stderr"
check "corpus slice, embedded local cluster" "$work/ref" "$work/out"
# It passes the input's directory to its nodes, which read it themselves.
env -u FLORET_BROKER timeout 120 "$floret" wordcount --json "$slice" 2> "$work/stderr" |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["chunks_read_by_nodes"] > 0)' > "$work/got-embedded-loc"
echo True > "$work/want-embedded-loc"
check "embedded local cluster reads by reference" "$work/want-embedded-loc" "$work/got-embedded-loc"

# The reports: totals and the top words agree with the reference.
awk '{s += $1} END {print s + 0}' "$work/ref" > "$work/want-words"
wc -l < "$work/ref" | tr -d ' ' > "$work/want-distinct"
LC_ALL=C sort -k1,1nr -k2,2 "$work/ref" | head -5 | awk '{print $1, $2}' > "$work/want-top"
run "$work/json" --json --top 5 "$slice"
/usr/bin/python3 - "$work/json" "$work" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
w = sys.argv[2]
open(w + "/got-words", "w").write("%d\n" % r["words"])
open(w + "/got-distinct", "w").write("%d\n" % r["distinct"])
open(w + "/got-top", "w").write("".join("%d %s\n" % (t["count"], t["word"]) for t in r["top"]))
ok = (r["bytes"] > 0 and r["chunks"] >= 1 and sum(r["tasks_per_node"].values()) == r["chunks"]
      and r["chunks_read_by_nodes"] > 0)
open(w + "/got-json-ok", "w").write("%s\n" % ok)
EOF
check "json words" "$work/want-words" "$work/got-words"
check "json distinct" "$work/want-distinct" "$work/got-distinct"
check "json top 5" "$work/want-top" "$work/got-top"
echo True > "$work/want-json-ok"
check "json chunks and tasks per node" "$work/want-json-ok" "$work/got-json-ok"
run "$work/text" --top 5 "$slice"
awk '$1 == "words" {print $2}' "$work/text" > "$work/got-words"
check "text words" "$work/want-words" "$work/got-words"
run "$work/quiet" --quiet --top 5 "$slice"
{ echo "words      $(cat "$work/want-words")"; echo "distinct   $(cat "$work/want-distinct")"
  awk '{printf "%12d  %s\n", $1, $2}' "$work/want-top"; } > "$work/want-quiet"
check "quiet" "$work/want-quiet" "$work/quiet"

# Clear errors: a missing file and a bad option, with their exit statuses.
timeout 60 "$floret" wordcount "$work/in/does-not-exist" > /dev/null 2> "$work/stderr"
echo "rc=$? $(grep -c 'does-not-exist: No such file' "$work/stderr")" > "$work/got"
echo "rc=1 1" > "$work/want"
check "missing file" "$work/want" "$work/got"
timeout 60 "$floret" wordcount --chunk 0 "$slice" > /dev/null 2> "$work/stderr"
echo "rc=$? $(grep -c -- '--chunk' "$work/stderr")" > "$work/got"
echo "rc=2 1" > "$work/want"
check "bad --chunk" "$work/want" "$work/got"

echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
