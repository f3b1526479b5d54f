#!/usr/bin/env python3
"""test_compress - compressed attachments (docs/protocol.md section 3,
"Compressed attachments") between real nodes on a real broker:

- a word count through the broker (--no-locality) across a node started
  with --compress zstd,lz4, one left to the default (decodes, does not
  compress) and one started with --no-compress is exact (the reference
  pipeline of docs/wordcount.md, compared byte for byte); a client with
  --compress sends the chunks to the first two compressed, to the third
  plain, and only the first compresses its partial counts back; a client
  left to the default compresses nothing; one with FLORET_COMPRESS=none
  gets nothing compressed; --compress lz4 picks lz4;
- hostile compressed attachments (an unknown codec, zstd and lz4 bombs, a
  truncated stream, a declared size that lies either way, a declared size
  over the node's --max-message) each get an error reply naming the member
  and what was wrong, one log line, and the node goes on serving.

The attachments are made with Debian's libzstd and liblz4 through ctypes
(the libraries floret itself links, so they are on every machine it runs).
Depends on floret_fixture."""

import ctypes
import json
import os
import subprocess
import tempfile

import floret_fixture as fx

P = fx.PREFIX
HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_SH = os.path.join(HERE, "..", "..", "bench", "corpus.sh")
MAX_MESSAGE = 1 << 20

zstd = ctypes.CDLL("libzstd.so.1")
zstd.ZSTD_compressBound.restype = ctypes.c_size_t
zstd.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
zstd.ZSTD_compress.restype = ctypes.c_size_t
zstd.ZSTD_compress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                               ctypes.c_size_t, ctypes.c_int]
zstd.ZSTD_createCCtx.restype = ctypes.c_void_p
zstd.ZSTD_freeCCtx.argtypes = [ctypes.c_void_p]
zstd.ZSTD_CCtx_setParameter.restype = ctypes.c_size_t
zstd.ZSTD_CCtx_setParameter.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
zstd.ZSTD_compress2.restype = ctypes.c_size_t
zstd.ZSTD_compress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.c_char_p, ctypes.c_size_t]
zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]
lz4 = ctypes.CDLL("liblz4.so.1")
lz4.LZ4_compress_default.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                     ctypes.c_int]
ZSTD_C_CONTENT_SIZE_FLAG = 200


def zstd_frame(data, with_size=True):
    cap = zstd.ZSTD_compressBound(len(data))
    out = ctypes.create_string_buffer(cap)
    if with_size:
        n = zstd.ZSTD_compress(out, cap, data, len(data), 1)
    else:
        cctx = zstd.ZSTD_createCCtx()
        zstd.ZSTD_CCtx_setParameter(cctx, ZSTD_C_CONTENT_SIZE_FLAG, 0)
        n = zstd.ZSTD_compress2(cctx, out, cap, data, len(data))
        zstd.ZSTD_freeCCtx(cctx)
    assert not zstd.ZSTD_isError(n)
    return out.raw[:n]


def lz4_block(data):
    out = ctypes.create_string_buffer(len(data) + len(data) // 255 + 16)
    n = lz4.LZ4_compress_default(data, out, len(data), len(out))
    assert n > 0
    return out.raw[:n]


def lease(att, codec, raw, mid, task_att=None):
    """A lease of one echo task whose attachment is att, sent compressed."""
    task = {"id": 1, "name": "echo", "attempt": 1, "att": task_att or [0, 10]}
    env = {"v": 1, "kind": "lease", "from": "g", "inc": 1, "mid": mid, "fid": 1,
           "ttl_ms": 30000, "tasks": [task], "bin_z": codec, "bin_raw": raw,
           "bin": len(att)}
    return json.dumps(env).encode() + b"\x00" + att


def reference_counts(path):
    cmd = ("LC_ALL=C tr -cs 'A-Za-z0-9\\200-\\377' '\\n' < '%s' | tr 'A-Z' 'a-z' "
           "| grep -v '^$' | sort | uniq -c" % path)
    return subprocess.run(["sh", "-c", cmd], capture_output=True, check=True,
                          env=dict(os.environ, LC_ALL="C")).stdout


class CompressTest(fx.ClusterTest):
    def corpus(self, size):
        fd, path = tempfile.mkstemp(prefix="floret-z-", suffix=".txt")
        os.close(fd)
        self.addCleanup(os.unlink, path)
        subprocess.run(["bash", CORPUS_SH, "--size", str(size), path], check=True,
                       capture_output=True)
        return path

    def sniff(self, c):
        s = fx.Mqtt(c.broker.port, "sniffer")
        self.addCleanup(s.close)
        s.subscribe(P + "node/+/in")
        return s

    def count(self, c, path, *opts, env=None):
        """floret wordcount --all on c: its stdout, as bytes."""
        r = subprocess.run([fx.FLORET_BIN, "wordcount", "--no-locality", "--chunk",
                            "256k", "--all"] + list(opts) + [path],
                           env=env or c.env(), capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode() + self.logs())
        return r.stdout

    @staticmethod
    def settle(sniffer):
        """Every message the sniffer gets until it has been quiet for 1 s
        (it may lag behind a run that has ended)."""
        out = []
        while True:
            got = sniffer.drain(1.0)
            if not got:
                return out
            out += got

    @staticmethod
    def kinds(messages):
        """(receiver, kind, compressed with) of each message seen whose
        attachment is big enough to be worth it (4 KiB, protocol.md)."""
        out = []
        for topic, payload, _ in messages:
            env = fx.parse_envelope(payload)
            if env.get("bin_raw", env.get("bin", 0)) >= 4096:
                out.append((topic[len(P + "node/"):-len("/in")], env["kind"],
                            env.get("bin_z")))
        return out

    def test_word_count_exact_across_compressing_and_plain_nodes(self):
        path = self.corpus(3 << 20)
        want = reference_counts(path)
        c = self.start_cluster(())
        c.add_node("wz", ["--slots", "1", "--compress", "zstd,lz4"])
        c.add_node("wd", ["--slots", "1"])
        c.add_node("wn", ["--slots", "1", "--no-compress"])
        seen = fx.wait_online(c.broker.port, ["wz", "wd", "wn"])
        self.assertEqual(seen["wz"].get("z"), ["zstd", "lz4"], seen)
        self.assertEqual(seen["wd"].get("z"), ["zstd", "lz4"], seen)  # decodes
        self.assertNotIn("z", seen["wn"], seen)

        s = self.sniff(c)
        self.assertTrue(self.count(c, path, "--compress", "zstd,lz4") == want,
                        "counts differ from the reference" + self.logs())
        got = self.kinds(self.settle(s))
        to_wz = [z for who, kind, z in got if who == "wz" and kind == "lease"]
        to_wd = [z for who, kind, z in got if who == "wd" and kind == "lease"]
        to_wn = [z for who, kind, z in got if who == "wn" and kind == "lease"]
        self.assertTrue(to_wz and to_wd and to_wn, got)
        self.assertEqual(set(to_wz), {"zstd"}, got)
        self.assertEqual(set(to_wd), {"zstd"}, got)
        self.assertEqual(set(to_wn), {None}, got)
        # Partial counts back to the client: compressed by wz only (wd
        # decodes but does not compress, wn neither).
        done = [z for who, kind, z in got if kind == "done"]
        self.assertIn("zstd", done, got)
        self.assertIn(None, done, got)

        # A client left to the default compresses nothing: nodes that
        # compress still do, for it decodes.
        got_default = self.count(c, path)
        self.assertTrue(got_default == want, "counts differ" + self.logs())
        got = self.kinds(self.settle(s))
        self.assertEqual({z for _, kind, z in got if kind == "lease"}, {None}, got)
        self.assertIn("zstd", {z for _, kind, z in got if kind == "done"}, got)

        # A client that lists none: nothing travels compressed either way.
        env = c.env()
        env["FLORET_COMPRESS"] = "none"
        self.assertTrue(self.count(c, path, env=env) == want, "counts differ" + self.logs())
        got = self.kinds(self.settle(s))
        self.assertTrue(got, got)
        self.assertEqual({z for _, _, z in got}, {None}, got)

        # --compress lz4 on the client: the chunks to wz travel as lz4.
        self.assertTrue(self.count(c, path, "--compress", "lz4") == want,
                        "counts differ" + self.logs())
        got = self.kinds(self.settle(s))
        self.assertEqual({z for who, kind, z in got if who == "wz" and kind == "lease"},
                         {"lz4"}, got)

    def test_hostile_compressed_attachments(self):
        c = self.start_cluster(("w1",), ["--max-message", str(MAX_MESSAGE)])
        node = c.nodes["w1"]
        g = fx.Mqtt(c.broker.port, "g")
        self.addCleanup(g.close)
        g.subscribe(P + "node/g/in")
        zeros = b"\x00" * (64 << 20)
        text = b"the quick brown fox " * 500  # 10000 bytes
        frame = zstd_frame(text)
        cases = [
            ("an unknown codec", lease(b"x" * 20, "brotli", 10, 1),
             "TooBig BadMessage", ["bin_z", "unknown codec 'brotli'", "zstd, lz4"]),
            ("a zstd bomb that declares its size", lease(zstd_frame(zeros), "zstd", 1000, 2),
             "BadMessage", ["bin_z", "does not decode to at most bin_raw = 1000"]),
            ("a zstd bomb that hides its size",
             lease(zstd_frame(zeros, with_size=False), "zstd", 1000, 3),
             "BadMessage", ["bin_z", "does not decode to at most bin_raw = 1000"]),
            ("an lz4 bomb", lease(lz4_block(zeros[:8 << 20]), "lz4", 1000, 4),
             "BadMessage", ["bin_z", "lz4 attachment does not decode"]),
            ("a truncated zstd stream", lease(frame[:len(frame) // 2], "zstd", 10000, 5),
             "BadMessage", ["bin_z", "corrupt, truncated or larger"]),
            ("a declared size above the real one", lease(frame, "zstd", 20000, 6),
             "BadMessage", ["bin_z"]),
            ("a declared size below the real one", lease(frame, "zstd", 5000, 7),
             "BadMessage", ["bin_z", "bin_raw = 5000"]),
            ("lz4 declaring more than it holds", lease(lz4_block(text), "lz4", 20000, 8),
             "BadMessage", ["bin_z", "fewer bytes than bin_raw = 20000"]),
            ("a declared size over --max-message",
             lease(frame, "zstd", MAX_MESSAGE + 1, 9), "TooBig",
             ["bin_raw", "over the limit of %d" % MAX_MESSAGE]),
            ("a range outside what it decodes to",
             lease(frame, "zstd", 10000, 10, task_att=[9990, 20]), "BadMessage",
             ["att", "outside the 10000-byte attachment"]),
        ]

        def dropped():
            return [l for l in node.log_text().splitlines() if "dropped message" in l]

        for label, payload, types, words in cases:
            with self.subTest(label):
                before = len(dropped())
                g.publish(P + "node/w1/in", payload)
                _, rp, _ = g.expect(lambda t, p, r: True, 10, "an error reply for " + label)
                reply = fx.parse_envelope(rp)
                self.assertEqual(reply["kind"], "error", reply)
                self.assertIn(reply["error"]["type"], types.split(), reply)
                for w in words:
                    self.assertIn(w, reply["error"]["message"], reply)
                self.assertEqual(reply.get("re"), json.loads(payload.split(b"\x00")[0])["mid"])
                fx.wait_until(lambda: len(dropped()) > before, 10, what="a log line")
                self.assertEqual(len(dropped()), before + 1, "\n".join(dropped()[before:]))
                self.assertTrue(node.alive(), label + self.logs())

        # A good compressed lease from the same sender still works: the
        # node runs it and answers.
        g.publish(P + "node/w1/in", lease(frame, "zstd", 10000, 11, task_att=[0, 10000]))
        _, rp, _ = g.expect(lambda t, p, r: fx.parse_envelope(p)["kind"] in ("done", "error"),
                            10, "the echo's outcome")
        env = fx.parse_envelope(rp)
        self.assertEqual(env["kind"], "done", env)
        self.assertTrue(env["results"][0]["ok"], env)
        r = c.floret("call", "add", "1", "2", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "3"), r.stderr + self.logs())


if __name__ == "__main__":
    fx.main()
