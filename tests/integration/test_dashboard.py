#!/usr/bin/env python3
"""test_dashboard - `floret dashboard` against a live cluster of real nodes:
/metrics parses with Prometheus' own text parser (python3-prometheus-client)
and its per-node counters match the tasks each node ran; /api/status lists
every node; the page is one embedded document (ctest it_dashboard); and
(ctest browser_dashboard, DashboardTest.test_browser) a real headless Chromium (tests/browser/dashboard_check.mjs, driven by
playwright-core) sees every node, a killed node turn offline within 30 s,
the tasks of a run in the counts and a failure's error, and leaves a
screenshot in the build dir; (ctest browser_tiles, DashboardTest.
test_browser_tiles) the page paints a `floret mandelbrot` run tile by tile:
its canvas ends equal to the PNG the command wrote, pixel for pixel, every
tile painted, the tiles per tint those the command reports per node, and
the caption and the share of the work in the same tints. Depends on floret_fixture,
prometheus_client, node and chromium (browser part)."""

import json
import os
import re
import shutil
import struct
import subprocess
import time
import urllib.request
import zlib

from prometheus_client.parser import text_string_to_metric_families

import floret_fixture as fx

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "..", "browser", "dashboard_check.mjs")
NODES = ("d1", "d2", "d3")


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


def metrics(base):
    """{(name, node[, task]): value} of every sample in /metrics."""
    status, ctype, body = get(base + "metrics")
    assert status == 200 and ctype.startswith("text/plain"), (status, ctype)
    out = {}
    for fam in text_string_to_metric_families(body.decode("utf-8")):
        for s in fam.samples:
            key = (s.name, s.labels.get("node", ""), s.labels.get("task", ""))
            out[key] = s.value
    return out


class DashboardTest(fx.ClusterTest):
    def setUp(self):
        c = self.start_cluster(())
        for n in NODES:
            c.add_node(n, ["--slots", "2", "--tag", "rack=%s" % n])
        fx.wait_online(c.broker.port, list(NODES))
        log = os.path.join(c.workdir, "dashboard.log")
        self.dash = fx.spawn([fx.FLORET_BIN, "dashboard", "--broker", c.url,
                              "--listen", "127.0.0.1:0"], log)
        self.addCleanup(fx.stop_process, self.dash)
        line = fx.wait_until(lambda: re.search(r"dashboard: (http://\S+)", fx.read_text(log)),
                             15, what="the dashboard's URL")
        self.base = line.group(1)
        fx.wait_until(lambda: self.nodes_in_api() >= set(NODES), 15, what="every node in /api/status")

    def nodes_in_api(self):
        try:
            _, _, body = get(self.base + "api/status")
        except OSError:
            return set()
        return {n["id"] for n in json.loads(body)["nodes"] if n["online"]}

    def calls(self, n):
        """Run n calls one by one; {node: how many it ran}."""
        ran = {}
        for i in range(n):
            r = self.cluster.floret("call", "-v", "add", str(i), "1", timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr + self.logs())
            who = re.search(r"SUCCESS by (\S+)", r.stderr).group(1)
            ran[who] = ran.get(who, 0) + 1
        return ran

    def test_metrics_match_and_api(self):
        ran = self.calls(12)
        r = self.cluster.floret("call", "fail", timeout=30)
        self.assertNotEqual(r.returncode, 0)

        def matched():
            m = metrics(self.base)
            ok = all(m.get(("floret_tasks_succeeded_total", n, ""), 0) == ran.get(n, 0)
                     for n in NODES)
            failed = sum(m.get(("floret_tasks_failed_total", n, ""), 0) for n in NODES)
            return m if ok and failed == 1 else None
        m = fx.wait_until(matched, 20, interval=0.3, what="metrics matching the calls")
        for n in NODES:
            self.assertEqual(m[("floret_node_up", n, "")], 1)
            self.assertEqual(m[("floret_node_slots", n, "")], 2)
            self.assertEqual(m.get(("floret_task_executed_total", n, "add"), 0), ran.get(n, 0))
        self.assertEqual(sum(m[("floret_tasks_executed_total", n, "")] for n in NODES), 13)

        def snapshot():  # refreshed every second, a moment behind /metrics
            _, ctype, body = get(self.base + "api/status")
            self.assertTrue(ctype.startswith("application/json"), ctype)
            doc = json.loads(body)
            return doc if doc["failures"] else None
        doc = fx.wait_until(snapshot, 10, interval=0.2, what="the failure in /api/status")
        nodes = {n["id"]: n for n in doc["nodes"]}
        self.assertEqual(nodes["d1"]["tags"], ["rack=d1"])
        self.assertEqual(doc["totals"]["online"] >= 3, True, doc["totals"])
        self.assertTrue(any(f["err_type"] == "TaskError" for f in doc["failures"]), doc["failures"])

        status, ctype, page = get(self.base)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/html"), ctype)
        self.assertIn(b"EventSource(\"/events\")", page)
        self.assertNotRegex(page.decode("utf-8"), r"(src|href)=\"https?://")  # no CDN
        try:
            get(self.base + "nope")
            self.fail("/nope was served")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 404)

    def test_floret_local_dashboard(self):
        """`floret local --dashboard` serves one beside its own cluster (whose
        broker admits only its users) and tells COMMAND where."""
        probe = ("import json, os, time, urllib.request\n"
                 "url = os.environ['FLORET_DASHBOARD'] + 'api/status'\n"
                 "for _ in range(100):\n"
                 "    doc = json.load(urllib.request.urlopen(url, timeout=5))\n"
                 "    up = sorted(n['id'] for n in doc['nodes'] if n['online'] and n['slots'])\n"
                 "    if up == ['local-1', 'local-2']:\n"
                 "        print('seen', *up)\n"
                 "        break\n"
                 "    time.sleep(0.2)\n")
        env = dict(os.environ)
        env.pop("FLORET_BROKER", None)
        r = subprocess.run([fx.FLORET_BIN, "local", "-n", "2", "--dashboard-listen", "127.0.0.1:0",
                            "--", "/usr/bin/python3", "-c", probe], env=env, capture_output=True,
                           text=True, timeout=90, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"dashboard: http://127\.0\.0\.1:\d+/")
        self.assertIn("seen local-1 local-2", r.stdout, r.stderr)

    def browser(self, shot):
        """The page in Chromium, driven by dashboard_check.mjs; step(send,
        want, timeout) sends a line and waits for the answer."""
        npm = os.environ.get("NPM_DIR", "")
        self.assertTrue(os.path.isdir(os.path.join(npm, "node_modules", "playwright-core")),
                        "playwright-core is not installed under NPM_DIR=%r" % npm)
        node = shutil.which("node")
        self.assertTrue(node, "node is not installed")
        env = dict(os.environ, NPM_DIR=npm,
                   CHROME_PROFILE=os.path.join(self.cluster.workdir, "chrome-profile"))
        p = subprocess.Popen([node, CHECK, self.base, shot] + list(NODES), env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        fx._live_processes.append(p)
        self.addCleanup(fx.stop_process, p)

        def step(send, want, timeout):
            if send:
                p.stdin.write(send + "\n")
                p.stdin.flush()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                line = line.strip()
                if line == want:
                    return
                if line.startswith("error:"):
                    self.fail("browser: %s (waiting for %s)%s" % (line, want, self.logs()))
            self.fail("browser: no %r%s" % (want, self.logs()))
        return step

    def test_browser(self):
        shot = os.environ.get("DASHBOARD_SCREENSHOT",
                              os.path.join(self.cluster.workdir, "dashboard.png"))
        step = self.browser(shot)
        step(None, "listed", 60)
        t0 = time.monotonic()
        self.cluster.nodes["d3"].kill()
        step("offline d3", "offline", 35)
        self.assertLess(time.monotonic() - t0, 30.0)
        items = ",".join("[%d,1]" % i for i in range(200))
        r = self.cluster.floret("run", "add.starmap([%s])" % items, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        r = self.cluster.floret("call", "fail", timeout=30)
        step("done 201", "counted", 30)
        step("shot", "shot", 30)
        self.assertTrue(os.path.getsize(shot) > 10000, shot)

    def test_browser_tiles(self):
        shot = os.environ.get("TILES_SCREENSHOT",
                              os.path.join(self.cluster.workdir, "dashboard-tiles.png"))
        step = self.browser(shot)
        step(None, "listed", 60)
        png = os.path.join(self.cluster.workdir, "m.png")
        w, h, tile = 320, 200, 20
        total = ((w + tile - 1) // tile) * ((h + tile - 1) // tile)
        r = self.cluster.floret("mandelbrot", "--size", "%dx%d" % (w, h), "--tile", str(tile),
                                "-o", png, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        reported = [(m.group(1), int(m.group(2)), m.group(3)) for m in
                    re.finditer(r"^  (\S+) +(\d+) tiles  (\w+)$", r.stderr, re.M)]
        self.assertEqual(sum(n for _, n, _ in reported), total, r.stderr)
        out = os.path.join(self.cluster.workdir, "canvas")
        step("picture %d %s" % (total, out), "painted", 40)
        step("shot " + shot, "shot", 30)
        with open(out + ".json") as f:
            got = json.load(f)
        with open(out + ".rgba", "rb") as f:
            rgba = f.read()
        self.assertEqual((got["width"], got["height"]), (w, h))
        self.assertEqual(len(rgba), w * h * 4)
        pw, ph, ctype, plte, idx = read_png(png)
        self.assertEqual((pw, ph, ctype), (w, h, 3))
        # every pixel painted (opaque) with the PNG's colour
        self.assertTrue(all(rgba[i] == 255 for i in range(3, len(rgba), 4)), "a pixel unpainted")
        want = b"".join(plte[3 * i:3 * i + 3] + b"\xff" for i in idx)
        self.assertEqual(rgba, want, "the page's picture differs from the PNG")
        # tiles per tint, read off the canvas: a tile's non-black pixels name
        # its tint; a tile all inside the set is black in every tint
        colour = {plte[3 * i:3 * i + 3]: i for i in range(len(plte) // 3) if i % 32}
        per_tint, black = {}, 0
        for ty in range(0, h, tile):
            for tx in range(0, w, tile):
                tints = {colour[rgba[4 * (y * w + x):4 * (y * w + x) + 3]] // 32
                         for y in range(ty, min(ty + tile, h)) for x in range(tx, min(tx + tile, w))
                         if rgba[4 * (y * w + x):4 * (y * w + x) + 3] != b"\0\0\0"}
                self.assertLessEqual(len(tints), 1, "tile %d,%d has several tints" % (tx, ty))
                if tints:
                    t = tints.pop()
                    per_tint[t] = per_tint.get(t, 0) + 1
                else:
                    black += 1
        names = ["red", "green", "blue", "yellow", "magenta", "cyan", "orange", "violet"]
        for node, n, tint in reported:
            self.assertLessEqual(per_tint.get(names.index(tint), 0), n, (node, per_tint))
        self.assertEqual(sum(per_tint.values()) + black, total)
        self.assertEqual(sum(n - per_tint.get(names.index(t), 0) for _, n, t in reported), black)
        # the caption and the share of the work, in the same tints
        self.assertIn("%d / %d tiles" % (total, total), got["caption"])
        rows = {row["node"]: row for row in got["rows"]}
        for node, n, tint in reported:
            self.assertEqual(rows[node]["tiles"], n, got["rows"])
            self.assertEqual(names[rows[node]["tint"]], tint, got["rows"])
            k = (names.index(tint) * 32 + 31) * 3
            css = "rgb(%d, %d, %d)" % tuple(plte[k:k + 3])
            self.assertEqual(rows[node]["color"], css, got["rows"])
            self.assertEqual(got["share"].get(node), css, got["share"])
        self.assertTrue(os.path.getsize(shot) > 10000, shot)


def read_png(path):
    """(width, height, colour type, palette, pixels) of a PNG that
    `floret mandelbrot` wrote (stored deflate, filter 0)."""
    with open(path, "rb") as f:
        data = f.read()
    pos, chunks = 8, []
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        chunks.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    w, h, _, ctype = struct.unpack(">IIBB", chunks[0][1][:10])
    plte = b"".join(b for k, b in chunks if k == b"PLTE")
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    px = b"".join(raw[y * (w + 1) + 1:(y + 1) * (w + 1)] for y in range(h))
    return w, h, ctype, plte, px


if __name__ == "__main__":
    fx.main()
