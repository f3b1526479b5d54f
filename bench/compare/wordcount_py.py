"""wordcount_py.py - the word count of DESIGN.md / docs/wordcount.md in
Python, for the Celery and Dask drivers of bench/compare.

A word is a maximal run of ASCII letters, ASCII digits or bytes >= 0x80;
ASCII letters are lowercased (bytes.lower() touches ASCII only), which is
exactly what `LC_ALL=C tr -cs 'A-Za-z0-9\\200-\\377' '\\n' | tr A-Z a-z`
keeps. Also cuts text into chunks at word boundaries and writes the
`sort | uniq -c` listing that run.sh compares with floret's.
Depends on the Python standard library only.
"""
import re
from collections import Counter

WORD = re.compile(rb"[a-z0-9\x80-\xff]+")
SEPARATOR = re.compile(rb"[^A-Za-z0-9\x80-\xff]")


def count_bytes(data):
    """Counter of the words of data (bytes)."""
    return Counter(WORD.findall(data.lower()))


def chunks(data, size):
    """Split data into pieces of about size bytes, never inside a word."""
    out = []
    off, n = 0, len(data)
    while off < n:
        end = off + size
        if end >= n:
            out.append(data[off:])
            break
        m = SEPARATOR.search(data, end)
        end = m.start() if m else n
        out.append(data[off:end])
        off = end
    return out


def merge(counters):
    total = Counter()
    for c in counters:
        total.update(c)
    return total


def write_listing(counts, path):
    """Every word in bytewise order, formatted as `uniq -c` prints it."""
    with open(path, "wb") as f:
        for word in sorted(counts):
            f.write(b"%7d %s\n" % (counts[word], word))
