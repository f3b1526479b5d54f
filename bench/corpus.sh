#!/usr/bin/env bash
# corpus.sh - build the word-count benchmark corpus from Debian-packaged text
# and print its sha256, so every published number names the exact input.
#
# Source text, in this order, each directory's files in C-locale name order:
#   1. /usr/share/games/fortunes: the Debian 12 package "fortunes"
#      (apt-get install fortunes): quotations, literature, humour; ~2.6 MB
#      of mostly English prose, some UTF-8. The .dat indexes and the .u8
#      symlinks are skipped.
#   2. /usr/share/common-licenses: package base-files, on every Debian.
# The concatenation is repeated until the corpus reaches its size, then cut
# at exactly that many bytes (the cut may fall inside a word; fine for a
# count that is compared with the reference pipeline on the same bytes).
#
# Usage: bench/corpus.sh [--slice] [--size BYTES] OUT
#   default size 104857600 (100 MiB); --slice makes the 5 MiB CI slice (the
#   first 5 MiB of the same corpus). Without fortunes, --slice falls back to
#   common-licenses alone and says so on stderr; the full corpus refuses, so
#   a benchmark number never silently comes from another text.
# Depends on: bash, coreutils (cat, truncate, stat, sha256sum, mktemp, sort), findutils.
set -euo pipefail

FORTUNES=/usr/share/games/fortunes
LICENSES=/usr/share/common-licenses
size=104857600
slice=0
out=

while [[ $# -gt 0 ]]; do
  case "$1" in
    --slice) slice=1; size=5242880; shift ;;
    --size) size="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    -*) echo "corpus.sh: unknown option $1" >&2; exit 2 ;;
    *) out="$1"; shift ;;
  esac
done
if [[ -z "$out" || ! "$size" =~ ^[0-9]+$ || "$size" -eq 0 ]]; then
  echo "usage: bench/corpus.sh [--slice] [--size BYTES] OUT" >&2
  exit 2
fi

sources=()
if [[ -d "$FORTUNES" ]]; then
  while IFS= read -r f; do
    sources+=("$f")
  done < <(LC_ALL=C find "$FORTUNES" -maxdepth 1 -type f ! -name '*.dat' | LC_ALL=C sort)
  label="fortunes + common-licenses"
elif [[ "$slice" -eq 1 ]]; then
  echo "corpus.sh: package fortunes not installed; slice from common-licenses only" >&2
  label="common-licenses only"
else
  echo "corpus.sh: the corpus needs the Debian package fortunes: apt-get install fortunes" >&2
  exit 1
fi
while IFS= read -r f; do
  sources+=("$f")
done < <(LC_ALL=C find "$LICENSES" -maxdepth 1 -type f | LC_ALL=C sort)

base=$(mktemp)
trap 'rm -f "$base"' EXIT
cat "${sources[@]}" > "$base"
base_size=$(stat -c %s "$base")
if [[ "$base_size" -eq 0 ]]; then
  echo "corpus.sh: no source text found" >&2
  exit 1
fi

repeats=$(( (size + base_size - 1) / base_size ))
: > "$out"
for ((i = 0; i < repeats; i++)); do
  cat "$base" >> "$out"
done
truncate -s "$size" "$out"

echo "corpus: $out, $size bytes, ${#sources[@]} source files ($label), repeated ${repeats}x" >&2
sha256sum "$out"
