#!/usr/bin/env python3
"""test_sites - floret across sites joined by Mosquitto bridges
(docs/scaling.md, "Sites joined by bridges"): each site a network
namespace with its own Mosquitto and nodes, the brokers bridged over
floret/# with the configuration docs/scaling.md gives (bench/floret_sites.py
builds it). A node id taken at one site is refused at another. A client
at site a runs calls, a chord and a word count that
use the nodes of every site; a node SIGKILLed at site b has its leases run
again elsewhere; the link to site b cut for 10 s, long enough for the
bridge to drop and reconnect, loses no task and runs none twice. Needs
root (CI runs as root). Depends on floret_fixture, many_calls_driver,
bench/floret_sites.py, iproute2, mosquitto, mosquitto-clients.
"""

import collections
import json
import os
import subprocess
import sys
import time

import floret_fixture as fx
from many_calls_driver import ManyCalls

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "bench"))
import floret_sites  # noqa: E402

CORPUS = "/usr/share/games/fortunes"


class Where:
    """What ManyCalls needs of a cluster: a URL and a directory."""

    def __init__(self, workdir):
        self.url = "mqtt://127.0.0.1:%d" % floret_sites.PORT
        self.workdir = workdir


def reference_counts(path):
    """docs/wordcount.md's reference pipeline, as {word: count}."""
    out = subprocess.run(
        "LC_ALL=C tr -cs 'A-Za-z0-9\\200-\\377' '\\n' < '%s' | LC_ALL=C tr 'A-Z' 'a-z' "
        "| grep -v '^$' | LC_ALL=C sort | uniq -c" % path,
        shell=True, capture_output=True, check=True).stdout
    counts = {}
    for line in out.splitlines():
        n, w = line.split()
        counts[w.decode("utf-8", "surrogateescape")] = int(n)
    return counts


class SitesTest(fx.ClusterTest):
    def build(self, n, nodes, slots=2):
        self.sites = floret_sites.Sites(n, nodes, slots, spawn=self._spawn)
        self.addCleanup(self.sites.close)
        return self.sites

    @staticmethod
    def _spawn(argv, log):
        return fx.spawn(argv, log)

    def logs(self, limit=4000):
        return "\n" + self.sites.logs(limit)

    def executed(self, letter="a"):
        """{node: tasks executed}, from the stats every node publishes every
        2 s (docs/protocol.md 3.11): read until two readings 2.5 s apart
        agree, so that the last tasks of a run are counted."""
        last = None
        for _ in range(10):
            r = self.sites.floret_at(letter, "status", "--json", "--timeout", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            now = {n["id"]: n["counters"]["executed"] for n in json.loads(r.stdout)}
            if now == last:
                return now
            last = now
            time.sleep(2.5)
        self.fail("the nodes' counters did not settle: %s" % last)

    def many_calls(self, n, timeout=150):
        s = self.sites.site("a")
        return ManyCalls(Where(self.sites.workdir), n, task="sleep", args="[0.01]",
                         expect="0.01", timeout=timeout,
                         wrap=["ip", "netns", "exec", s.ns])

    def check_run(self, run, n, wait=180):
        code, tasks, summary = run.finish(wait)
        detail = run.stderr() + self.logs()
        self.assertEqual(summary.get("total"), n, detail)
        self.assertEqual(summary.get("success"), n, detail)
        self.assertEqual(summary.get("duplicate_ids"), 0, detail)
        self.assertEqual(summary.get("mismatch"), 0, detail)
        self.assertEqual(code, 0, detail)
        self.assertEqual(sorted(t["index"] for t in tasks), list(range(n)))
        return collections.Counter(t["worker"] for t in tasks)

    def test_calls_chord_and_wordcount_use_every_site(self):
        s = self.build(3, 2)
        # Every site's broker holds every node's retained presence.
        for site in s.sites:
            seen = s.wait_online(site, ["a1", "a2", "b1", "b2", "c1", "c2"])
            self.assertEqual(len(seen), 6, seen)
        # A second a1 at site c is refused: the id check (docs/protocol.md,
        # section 1) sees a1's presence and hears its pong across the bridges.
        dup = s.add_node(s.site("c"), "a1", ["--slots", "1"])
        dup.wait(timeout=20)
        self.assertEqual(dup.returncode, 4, self.logs())
        self.assertIn("node id 'a1' is in use", floret_sites.read(s.site("c").nodes["a1"][1]))
        del s.site("c").nodes["a1"]
        r = s.floret_at("a", "call", "add", "2", "3", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())
        # Routed calls reach a node at each site and come back.
        for name in ("b2", "c1"):
            r = s.floret_at("a", "call", "--route", name, "mul", "6", "7", "--timeout", "20")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "42"), r.stderr + self.logs())
        r = s.floret_at("a", "run", "chord([%s], xsum())" %
                        ",".join("add(%d,%d)" % (i, i) for i in range(1, 25)), "--timeout", "30")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, str(sum(2 * i for i in range(1, 25)))),
                         r.stderr + self.logs())
        before = self.executed()
        by_worker = self.check_run(self.many_calls(600), 600)
        self.assertTrue(all(by_worker[n] > 0 for n in ("a1", "b1", "c1")), by_worker)
        after = self.executed()
        # Each task ran once: the nodes' own counters add up to the run.
        self.assertEqual(sum(after.values()) - sum(before.values()), 600, (before, after))

        corpus = os.path.join(s.workdir, "corpus.txt")
        with open(corpus, "wb") as out:
            for name in sorted(os.listdir(CORPUS)):
                if name.endswith(".u8"):
                    with open(os.path.join(CORPUS, name), "rb") as f:
                        out.write(f.read())
        r = s.floret_at("a", "wordcount", "--json", "--top", "0", "--chunk", "64k", corpus,
                        timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        got = json.loads(r.stdout)
        per_node = got["tasks_per_node"]
        for letter in "abc":
            self.assertTrue(any(k.startswith(letter) for k in per_node), per_node)
        want = reference_counts(corpus)
        self.assertEqual(got["words"], sum(want.values()))
        self.assertEqual(got["distinct"], len(want))
        counts = {t["word"]: t["count"] for t in got["top"]}
        wrong = sorted(w for w in set(counts) | set(want) if counts.get(w) != want.get(w))
        self.assertEqual(wrong, [], [(w, counts.get(w), want.get(w)) for w in wrong[:20]])

    def test_node_killed_at_site_b_has_its_leases_run_again(self):
        s = self.build(2, 2, slots=4)
        run = self.many_calls(1000)
        run.wait_progress(150, 60)
        self.assertLess(run.progress, 1000, "the run finished before the kill")
        s.kill_node("b1")
        # Its will, published by site b's broker, crossed the bridge.
        fx.wait_until(lambda: s.presences(s.site("a")).get("b1", {}).get("state") == "offline",
                      20, what="b1's will at site a")
        by_worker = self.check_run(run, 1000)
        self.assertGreater(by_worker["b1"], 0, by_worker)
        self.assertGreater(by_worker["b2"], 0, by_worker)
        self.assertEqual(sum(by_worker.values()), 1000, by_worker)

    def test_bridge_cut_for_10_s_loses_nothing_and_runs_nothing_twice(self):
        s = self.build(2, 2)
        before = self.executed()
        run = self.many_calls(1500, timeout=170)
        run.wait_progress(200, 60)
        s.cut("b")
        time.sleep(10)
        self.assertLess(run.progress, 1500, "the run finished during the cut")
        s.restore("b")
        by_worker = self.check_run(run, 1500)
        self.assertGreater(by_worker["b1"] + by_worker["b2"], 0, by_worker)
        after = self.executed()
        self.assertEqual(sum(after.values()) - sum(before.values()), 1500,
                         (before, after, self.logs()))
        # The cut was long enough for the bridge to notice and reconnect.
        log = floret_sites.read(s.site("b").log)
        self.assertGreaterEqual(log.count("Connecting bridge"), 2, log[-3000:])


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.stderr.write("test_sites needs root (ip netns, veth pairs)\n")
        sys.exit(1)
    fx.main()
