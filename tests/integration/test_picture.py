#!/usr/bin/env python3
"""test_picture - what `floret mandelbrot` shows dashboards (protocol.md
3.15), read with paho from a real broker while three real nodes render:
one `picture` message with the geometry, then `tiles` batches that hold
every tile of the grid once, each with its pixels (equal to the
--reference image) and the node that ran it (counts equal to the
command's report), the last one marked, sent while the run goes on at
most every 100 ms; nothing with --no-show. A real
`floret dashboard` takes the run whole (/api/picture) and refuses bad and
hostile picture messages by hand (not JSON, oversize, wrong types, tiles
off the grid, attachments too short, another node's id) and 300 random
mutations of a good one, showing nothing for the bad ones and staying up; and `floret local --dashboard`, whose broker
runs the ACL of `floret broker-config`, shows a run end to end.
Depends on floret_fixture (paho-mqtt)."""

import json
import os
import random
import re
import subprocess
import time
import urllib.request

import floret_fixture as fx

W, H, TILE = 200, 120, 16
TOTAL = ((W + TILE - 1) // TILE) * ((H + TILE - 1) // TILE)
TOPIC = "floret/v1/default/node/+/picture"


def envelope(payload):
    text, _, att = payload.partition(b"\x00")
    return json.loads(text.decode("utf-8")), att


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


class PictureTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(("p1", "p2", "p3"), ["--slots", "1"])
        self.dir = self.cluster.workdir

    def mandel(self, *args):
        r = self.cluster.floret("mandelbrot", "--size", "%dx%d" % (W, H), "--tile", str(TILE),
                                *args, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        return r

    def reported(self, r):
        return dict((m.group(1), int(m.group(2))) for m in
                    re.finditer(r"^  (\S+) +(\d+) tiles", r.stderr, re.M))

    def reference(self):
        out = os.path.join(self.dir, "ref.pgm")
        subprocess.run([fx.FLORET_BIN, "mandelbrot", "--reference", "--size", "%dx%d" % (W, H),
                        "--tile", str(TILE), "-o", out], check=True, capture_output=True)
        with open(out, "rb") as f:
            data = f.read()
        return data[len(b"P5\n%d %d\n255\n" % (W, H)):]

    def test_tiles_published(self):
        ref = self.reference()
        sub = fx.Mqtt(self.cluster.broker.port, "pic-watch")
        self.addCleanup(sub.close)
        sub.subscribe(TOPIC, qos=0)
        r = self.mandel("-o", os.path.join(self.dir, "m.png"))
        msgs = sub.drain(1.0)
        self.assertTrue(msgs, "no picture message")
        starts = [m for m in msgs if envelope(m[1])[0]["kind"] == "picture"]
        self.assertEqual(len(starts), 1, [m[0] for m in msgs])
        topic, payload, retained = msgs[0]
        self.assertFalse(retained)
        start, _ = envelope(payload)
        self.assertEqual(start["kind"], "picture", "the start comes first")
        pid = topic.split("/")[4]
        self.assertEqual(start["from"], pid)
        self.assertTrue(pid.endswith("-pic"), pid)
        self.assertEqual(pid, start["client"] + "-pic")
        for k, v in (("v", 1), ("width", W), ("height", H), ("tile", TILE), ("total", TOTAL),
                     ("iter", 256)):
            self.assertEqual(start[k], v, k)
        seen, per_node, last = {}, {}, []
        for topic, payload, _ in msgs[1:]:
            self.assertEqual(topic.split("/")[4], pid)
            doc, att = envelope(payload)
            self.assertEqual(doc["kind"], "tiles")
            self.assertEqual((doc["run"], doc["from"], doc["width"], doc["height"], doc["tile"],
                              doc["total"]), (start["run"], pid, W, H, TILE, TOTAL))
            self.assertEqual(doc["bin"], len(att))
            self.assertLessEqual(len(doc["tiles"]), 512)
            last.append(doc.get("last", False))
            for t in doc["tiles"]:
                x, y, w, h = t["x"], t["y"], t["w"], t["h"]
                self.assertEqual((x % TILE, y % TILE), (0, 0), t)
                self.assertEqual((w, h), (min(TILE, W - x), min(TILE, H - y)), t)
                self.assertNotIn((x, y), seen, "tile sent twice")
                off, n = t["att"]
                self.assertEqual(n, w * h)
                px = att[off:off + n]
                want = b"".join(ref[(y + j) * W + x:(y + j) * W + x + w] for j in range(h))
                self.assertEqual(px, want, "pixels of tile %d,%d" % (x, y))
                node = doc["nodes"][t["node"]]
                seen[(x, y)] = node
                per_node[node] = per_node.get(node, 0) + 1
        self.assertEqual(len(seen), TOTAL, "every tile once")
        self.assertEqual(last[-1], True, "the last batch is marked")
        self.assertNotIn(True, last[:-1])
        self.assertEqual(per_node, self.reported(r))

        self.mandel("--no-show", "-o", os.path.join(self.dir, "n.png"))
        self.assertEqual(sub.drain(0.5), [], "--no-show sent pictures")

    def test_tiles_live_and_throttled(self):
        """A slow run (deep iterations) is shown while it runs, in batches
        at most every 100 ms, not at its end."""
        sub = fx.Mqtt(self.cluster.broker.port, "pic-live")
        self.addCleanup(sub.close)
        got = []
        sub.client.on_message = lambda c, u, m: got.append((time.monotonic(), bytes(m.payload)))
        sub.subscribe(TOPIC, qos=0)
        self.mandel("--iter", "100000", "-o", os.path.join(self.dir, "slow.png"))
        fx.wait_until(lambda: got and envelope(got[-1][1])[0].get("last"), 5, what="the last batch")
        batches = [(t, envelope(p)[0]) for t, p in got if envelope(p)[0]["kind"] == "tiles"]
        span = batches[-1][0] - batches[0][0]
        self.assertGreaterEqual(len(batches), 3, "tiles came in %d batches" % len(batches))
        self.assertGreater(span, 0.3, "all batches came within %.2f s" % span)
        self.assertLessEqual(len(batches), span / 0.1 + 3, "more than one batch per 100 ms")
        self.assertEqual(sum(len(d["tiles"]) for _, d in batches), TOTAL)

    def start_dashboard(self):
        log = os.path.join(self.dir, "dashboard.log")
        dash = fx.spawn([fx.FLORET_BIN, "dashboard", "--broker", self.cluster.url,
                         "--listen", "127.0.0.1:0"], log)
        self.addCleanup(fx.stop_process, dash)
        line = fx.wait_until(lambda: re.search(r"dashboard: (http://\S+)", fx.read_text(log)),
                             15, what="the dashboard's URL")
        return dash, line.group(1) + "api/picture"

    def test_dashboard_refuses_bad_pictures(self):
        dash, api = self.start_dashboard()
        pub = fx.Mqtt(self.cluster.broker.port, "fz")
        self.addCleanup(pub.close)
        topic = "floret/v1/default/node/fz/picture"
        geo = {"v": 1, "kind": "tiles", "from": "fz", "run": 7, "width": 32, "height": 16,
               "tile": 16, "total": 2}

        def tiles(ts, att, **kw):
            doc = dict(geo, nodes=["p1"], tiles=ts, bin=len(att), **kw)
            return json.dumps(doc).encode() + b"\x00" + att

        one = {"x": 0, "y": 0, "w": 16, "h": 16, "node": 0, "att": [0, 256]}
        bad = [
            (b"not json", "not a JSON object"),
            (b"[1,2,3]", "not a JSON object"),
            (b"[" * 5000 + b"]" * 5000, "not a JSON object"),
            (b"{" + b" " * (8 << 20) + b"}", "over the limit"),
            (json.dumps(dict(geo, run="seven")).encode(), "run:"),
            (json.dumps(dict(geo, kind="tile")).encode(), "kind:"),
            (json.dumps(dict(geo, width=1 << 40)).encode(), "width:"),
            (json.dumps(dict(geo, total=3)).encode(), "total:"),
            (json.dumps(dict(geo, **{"from": "p1"})).encode(), "from:"),
            (json.dumps(dict(geo, nodes="p1", tiles=[])).encode(), "nodes:"),
            (json.dumps(dict(geo, nodes=[{}], tiles=[])).encode(), "nodes[0]"),
            (tiles([dict(one, x=3)], bytes(256)), "x and y"),
            (tiles([dict(one, w=15)], bytes(256)), "w and h"),
            (tiles([dict(one, node=1)], bytes(256)), "node:"),
            (tiles([dict(one, node="p1")], bytes(256)), "node:"),
            (tiles([dict(one, att=[200, 256])], bytes(256)), "att:"),
            (tiles([one], bytes(100)), "att:"),
            (tiles(["tile"], bytes(256)), "tiles[0]"),
            (tiles([one], bytes(256), last="yes"), "last:"),
            (json.dumps(dict(geo, nodes=[], tiles=[], bin=5)).encode() + b"\x00abc", "bin:"),
        ]
        for i, (payload, why) in enumerate(bad, 1):
            pub.publish(topic, payload, qos=1)
            doc = fx.wait_until(lambda: (lambda d: d if d["rejected"] >= i else None)(
                get_json(api)), 10, interval=0.05, what="message %d refused" % i)
            self.assertEqual(doc["rejected"], i, doc)
            self.assertIn(why, doc["last_error"], (i, doc))
            self.assertIsNone(doc["run"], "a bad message showed a picture")
        self.assertIsNone(dash.poll(), "the dashboard died")
        # a good batch whose start was lost is shown; a tile seen twice counts once
        pub.publish(topic, tiles([one, one], bytes(256)), qos=1)
        doc = fx.wait_until(lambda: (lambda d: d if d["run"] == 7 else None)(get_json(api)),
                            10, interval=0.05, what="the hand-made tile shown")
        self.assertEqual((doc["done"], doc["total"], doc["rejected"]), (1, 2, len(bad)), doc)
        # and 300 mutations of a good batch: cut short, bytes changed
        rnd = random.Random(17)
        good = tiles([one], bytes(range(256)), run=8)
        for _ in range(300):
            m = bytearray(good)
            if rnd.random() < 0.3:
                m = m[:rnd.randrange(1, len(m))]
            for _ in range(rnd.randrange(1, 4)):
                m[rnd.randrange(len(m))] = rnd.randrange(256)
            pub.publish(topic + "x" if rnd.random() < 0.05 else topic, bytes(m), qos=0)
        pub.publish(topic, json.dumps(dict(geo, width=33, height=5, tile=7)).encode(), qos=1)
        fx.wait_until(lambda: "7 px tiles of 33x5" in get_json(api)["last_error"], 10,
                      what="the mutations read")
        self.assertIsNone(dash.poll(), "the dashboard died on a mutated message")
        # a real run replaces it
        r = self.mandel("-o", os.path.join(self.dir, "m.png"))
        doc = fx.wait_until(lambda: (lambda d: d if d["run"] != 7 and d["last"] else None)(
            get_json(api)), 10, interval=0.05, what="the run in /api/picture")
        self.assertEqual((doc["done"], doc["total"], doc["width"]), (TOTAL, TOTAL, W), doc)
        self.assertEqual({n["id"]: n["tiles"] for n in doc["nodes"]}, self.reported(r))
        # a page that opens now gets the run so far on /events: its start,
        # then every tile once
        events = self.sse_picture(api.replace("api/picture", "events"), TOTAL)
        self.assertEqual(events[0][0], "picture")
        start = events[0][1]
        self.assertEqual((start["run"], start["width"], start["height"], len(start["palette"])),
                         (doc["run"], W, H, 256 * 6))
        placed = [tuple(t[:2]) for kind, d in events[1:] for t in d["tiles"]]
        self.assertEqual(len(placed), TOTAL)
        self.assertEqual(len(set(placed)), TOTAL)
        self.assertIsNone(dash.poll())

    def sse_picture(self, url, total, timeout=10):
        """The picture events of /events until `total` tiles came."""
        out, kind, n = [], None, 0
        deadline = time.monotonic() + timeout
        with urllib.request.urlopen(url, timeout=timeout) as r:
            while n < total and time.monotonic() < deadline:
                line = r.readline().decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    doc = json.loads(line[6:])
                    out.append((kind, doc))
                    n += len(doc.get("tiles", [])) if kind == "tiles" else 0
                elif not line:
                    kind = None
        self.assertEqual(n, total, "tiles on /events")
        return out

    def test_floret_local_acl(self):
        """`floret local` runs its broker with the ACL of broker-config: its
        operator's mandelbrot publishes, its dashboard reads."""
        probe = ("import json, os, subprocess, sys, time, urllib.request\n"
                 "r = subprocess.run([sys.argv[1], 'mandelbrot', '--size', '120x80', '-o',"
                 " sys.argv[2]], capture_output=True, text=True)\n"
                 "print(r.stderr)\n"
                 "url = os.environ['FLORET_DASHBOARD'] + 'api/picture'\n"
                 "for _ in range(50):\n"
                 "    doc = json.load(urllib.request.urlopen(url, timeout=5))\n"
                 "    if doc['run'] is not None and doc['last']:\n"
                 "        break\n"
                 "    time.sleep(0.1)\n"
                 "print('picture', doc.get('done'), doc.get('total'), doc['rejected'])\n")
        env = dict(os.environ)
        env.pop("FLORET_BROKER", None)
        r = subprocess.run([fx.FLORET_BIN, "local", "-n", "2", "--dashboard-listen", "127.0.0.1:0",
                            "--", "/usr/bin/python3", "-c", probe, fx.FLORET_BIN,
                            os.path.join(self.dir, "l.png")], env=env, capture_output=True,
                           text=True, timeout=90, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("warning", r.stdout + r.stderr)
        self.assertIn("picture 6 6 0", r.stdout, r.stdout + r.stderr)


if __name__ == "__main__":
    fx.main()
