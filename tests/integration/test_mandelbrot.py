#!/usr/bin/env python3
"""test_mandelbrot - `floret mandelbrot` on a real broker and three real
nodes against `floret mandelbrot --reference` (the same tile code in one
process, no broker): the cluster's PGM is byte for byte the reference;
the tinted PNG (decoded here with Python's zlib, every chunk's CRC
checked) has the reference's levels in every pixel and one tint per tile,
one per node, with the tile counts the command reports; a gray PNG holds
the reference pixels; known points are inside and outside the set; a bad
tile is refused naming the member. Depends on floret_fixture."""

import hashlib
import os
import re
import struct
import subprocess
import zlib

import floret_fixture as fx

W, H, TILE = 200, 120, 16
LEVELS = 32


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_pgm(path):
    data = read_bytes(path)
    m = re.match(rb"P5\n(\d+) (\d+)\n255\n", data)
    assert m, data[:20]
    w, h = int(m.group(1)), int(m.group(2))
    px = data[m.end():]
    assert len(px) == w * h, (len(px), w, h)
    return w, h, px


def read_png(path):
    """(width, height, color type, palette bytes or None, pixels)."""
    data = read_bytes(path)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    pos, chunks = 8, []
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, "bad CRC in %r" % kind
        chunks.append((kind, body))
        pos += 12 + n
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", [c[0] for c in chunks]
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[0][1][:10])
    assert depth == 8
    plte = [b for k, b in chunks if k == b"PLTE"]
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    assert len(raw) == (w + 1) * h
    rows = []
    for y in range(h):
        row = raw[y * (w + 1):(y + 1) * (w + 1)]
        assert row[0] == 0, "filter %d" % row[0]
        rows.append(row[1:])
    return w, h, ctype, plte[0] if plte else None, b"".join(rows)


def pixel_of(re_, im, w=W, h=H, cx=-0.6, cy=0.0, span=3.2):
    step = span / w
    x = int((re_ - (cx - span / 2)) / step)
    y = int(((cy + step * h / 2) - im) / step)
    return y * w + x


class MandelbrotTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(("m1", "m2", "m3"), ["--slots", "1"])
        self.dir = self.cluster.workdir

    def mandel(self, *args):
        return self.cluster.floret("mandelbrot", "--size", "%dx%d" % (W, H),
                                   "--tile", str(TILE), *args, timeout=120)

    def reference(self):
        path = os.path.join(self.dir, "ref.pgm")
        r = subprocess.run([fx.FLORET_BIN, "mandelbrot", "--reference", "--size",
                            "%dx%d" % (W, H), "--tile", str(TILE), "-o", path,
                            "--broker", "mqtt://127.0.0.1:1"],  # never used
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("in this process", r.stderr)
        return read_pgm(path)[2]

    def test_cluster_equals_reference(self):
        ref = self.reference()
        out = os.path.join(self.dir, "cluster.pgm")
        r = self.mandel("-o", out)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        w, h, px = read_pgm(out)
        self.assertEqual((w, h), (W, H))
        self.assertEqual(hashlib.sha256(px).hexdigest(), hashlib.sha256(ref).hexdigest(),
                         "the cluster's image differs from the reference")
        # Known points: the cardioid's inside, the period-2 bulb, far outside.
        self.assertEqual(px[pixel_of(-0.25, 0.0)], 0)
        self.assertEqual(px[pixel_of(-1.0, 0.0)], 0)
        self.assertGreater(px[pixel_of(0.9, 0.7)], 0)
        self.assertGreater(px[pixel_of(-2.1, 0.7)], 0)
        # Both kinds of pixel in quantity: not a blank or a constant image.
        inside = px.count(0)
        self.assertTrue(0.1 * W * H < inside < 0.5 * W * H, inside)

    def test_tinted_png_tiles_by_node(self):
        ref = self.reference()
        out = os.path.join(self.dir, "tinted.png")
        r = self.mandel("-o", out)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        w, h, ctype, plte, px = read_png(out)
        self.assertEqual((w, h, ctype, len(plte)), (W, H, 3, 256 * 3))
        reported = dict((m.group(1), int(m.group(2))) for m in
                        re.finditer(r"^  (\S+) +(\d+) tiles  \w+$", r.stderr, re.M))
        self.assertTrue(set(reported) <= {"m1", "m2", "m3"}, r.stderr)
        self.assertEqual(sum(reported.values()), ((W + TILE - 1) // TILE) * ((H + TILE - 1) // TILE))
        order = re.findall(r"^  (\S+) +\d+ tiles", r.stderr, re.M)
        tiles_of = {}
        for ty in range(0, H, TILE):
            for tx in range(0, W, TILE):
                tints = set()
                for y in range(ty, min(ty + TILE, H)):
                    for x in range(tx, min(tx + TILE, W)):
                        i = y * W + x
                        g = ref[i]
                        level = 1 + g * (LEVELS - 2) // 255 if g else 0
                        self.assertEqual(px[i] % LEVELS, level, (x, y))
                        tints.add(px[i] // LEVELS)
                self.assertEqual(len(tints), 1, "tile %d,%d has tints %r" % (tx, ty, tints))
                t = tints.pop()
                tiles_of[order[t]] = tiles_of.get(order[t], 0) + 1
        self.assertEqual(tiles_of, reported)
        # Palette: index 0 of each tint is black (inside the set).
        for t in range(8):
            self.assertEqual(plte[t * LEVELS * 3:t * LEVELS * 3 + 3], b"\0\0\0")

    def test_gray_png_and_refusals(self):
        ref = self.reference()
        out = os.path.join(self.dir, "gray.png")
        r = self.mandel("--no-tint", "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        w, h, ctype, plte, px = read_png(out)
        self.assertEqual((w, h, ctype, plte), (W, H, 0, None))
        self.assertEqual(px, ref)
        r = self.cluster.floret("call", "mandel.tile", "--kwargs",
                                '{"width":10,"height":10,"x":4,"y":0,"w":7,"h":1,'
                                '"iter":5,"cx":0,"cy":0,"span":1}')
        self.assertEqual(r.returncode, 1)
        self.assertIn("ValueError: mandel.tile: kwargs.w must be a whole number from 1 to 6",
                      r.stderr)
        r = self.cluster.floret("call", "mandel.tile", "--kwargs", '{"width":"10"}')
        self.assertIn("kwargs.width must be a number, got string", r.stderr)
        r = self.mandel("-o", os.path.join(self.dir, "x.jpg"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected a .png or .pgm file", r.stderr)
        r = self.mandel("--size", "0x5")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--size '0x5'", r.stderr)
        r = self.cluster.floret("mandelbrot", "--size", "16384x16384", "--tile", "1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("at most 100000: use bigger tiles", r.stderr)


if __name__ == "__main__":
    fx.main()
