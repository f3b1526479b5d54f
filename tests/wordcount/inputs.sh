# inputs.sh - sourced by the word-count tests: make_inputs DIR [CORPUS_SH]
# writes the shared test inputs into DIR and sets INPUTS to their paths;
# ref FILE... prints the reference pipeline's counts (the contract of
# docs/wordcount.md), ref_min L FILE... the same keeping words of >= L bytes.
# Several files count as if each ended with a separator, as floret does.
# Depends on bash, coreutils, grep, awk, /usr/bin/python3.

ref() {
  local f
  for f in "$@"; do
    LC_ALL=C tr -cs 'A-Za-z0-9\200-\377' '\n' < "$f"
    echo
  done | LC_ALL=C tr 'A-Z' 'a-z' | LC_ALL=C grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c
}

ref_min() {
  local l="$1"
  shift
  ref "$@" | LC_ALL=C awk -v L="$l" 'length($2) >= L'
}

make_inputs() {
  local dir="$1" corpus_sh="${2:-}"
  mkdir -p "$dir"
  : > "$dir/empty"
  printf 'The quick brown Fox jumps over the lazy dog. THE DOG sleeps' > "$dir/no-newline"
  printf 'Hello\r\nWorld\r\nhello\r\n\r\nCRLF\r\n' > "$dir/crlf"
  printf 'Gr\303\274\303\237e aus K\303\266ln: na\303\257ve caf\303\251 \303\211COLE \342\200\224 Caf\303\251 CAF\303\211 \346\227\245\346\234\254\n' > "$dir/utf8"
  printf 'a\0b\0\0ABC\0abc\0\0x' > "$dir/nul"
  # One word longer than any chunk size the tests use (64 KiB) and than
  # the pieces wc.file reads at a time (256 KiB), in text.
  { printf 'before '; head -c 600000 /dev/zero | tr '\0' 'W'; printf ' after\n'; } > "$dir/long-word"
  /usr/bin/python3 -c 'import random, sys; r = random.Random(1); sys.stdout.buffer.write(r.randbytes(1 << 20))' > "$dir/random"
  INPUTS=("$dir/empty" "$dir/no-newline" "$dir/crlf" "$dir/utf8" "$dir/nul" "$dir/long-word" "$dir/random")
  if [[ -n "$corpus_sh" ]]; then
    bash "$corpus_sh" --slice "$dir/corpus-slice" >/dev/null
    INPUTS+=("$dir/corpus-slice")
  fi
}
