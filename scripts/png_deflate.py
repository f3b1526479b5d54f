#!/usr/bin/env python3
"""png_deflate.py IN.png OUT.png - recompress the pixels of a PNG written
by `floret mandelbrot` (stored, uncompressed deflate blocks) with zlib at
level 9, chunks otherwise unchanged, and check that the pixels read back
the same. Used for the README's picture (docs/img/mandelbrot.png), which
is then a tenth of the size. Python's standard library only."""

import struct
import sys
import zlib


def chunks(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s: not a PNG" % sys.argv[1])
    pos = 8
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        yield data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: png_deflate.py IN.png OUT.png")
    with open(sys.argv[1], "rb") as f:
        parts = list(chunks(f.read()))
    pixels = zlib.decompress(b"".join(b for k, b in parts if k == b"IDAT"))
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in parts:
        if kind == b"IDAT":
            if pixels is not None:
                out.append(chunk(b"IDAT", zlib.compress(pixels, 9)))
                pixels = None
        else:
            out.append(chunk(kind, body))
    data = b"".join(out)
    again = zlib.decompress(b"".join(b for k, b in chunks(data) if k == b"IDAT"))
    with open(sys.argv[1], "rb") as f:
        orig = zlib.decompress(b"".join(b for k, b in chunks(f.read()) if k == b"IDAT"))
    if again != orig:
        sys.exit("png_deflate.py: pixels differ after recompression")
    with open(sys.argv[2], "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
