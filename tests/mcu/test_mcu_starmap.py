#!/usr/bin/env python3
"""test_mcu_starmap - `floret run` of a 1,000-item add.starmap on a
cluster of the firmware and one POSIX node: every result is right and in
order, and the board ran a share of the tasks (its own counter, read from
its console).

The run is handed to the POSIX node (--async --owner p1), as a cluster
that lives longer than one command works: after a first workflow the
board's next fetch waits parked at p1, and parked workers are leased in
turn (docs/protocol.md), so the board's first lease leaves with p1's. A
run owned by a fresh `floret run` client is checked too (correct results),
but there the board's share is a race it often loses: p1 has drained 1,000
additions before the board's first fetch, a few emulated milliseconds
later, reaches the client.
Depends on mcu_fixture."""

import json

import mcu_fixture as mf

N = 1000


class StarmapTest(mf.McuTest):
    def kept_run(self, expr):
        c = self.cluster
        r = c.floret("run", "--async", "--owner", "p1", expr, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        wid = r.stdout.strip()
        r = c.floret("result", wid, "--timeout", "120", timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        return json.loads(r.stdout)

    def test_mixed_cluster_starmap(self):
        c = self.start_cluster(("p1",), ["--slots", "1"])
        fw = self.add_board("mcu1")
        items = [[i, 2 * i] for i in range(N)]
        expr = "add.starmap(%s)" % json.dumps(items)

        r = c.floret("run", "--timeout", "120", expr, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(json.loads(r.stdout), [3 * i for i in range(N)])

        self.assertEqual(self.kept_run("add.starmap([[1, 1], [2, 2]])"), [2, 4])
        before = fw.wait_stats(lambda s: s["held"] == 0, 10, "the board idle")["executed"]
        self.assertEqual(self.kept_run(expr), [3 * i for i in range(N)])
        try:
            fw.wait_stats(lambda s: s["executed"] > before and s["held"] == 0, 10,
                          "the board's share counted")
        except AssertionError as e:
            self.fail(str(e) + self.logs())
        st = fw.stats()
        share = st["executed"] - before
        self.assertGreater(share, 0, st)
        self.assertLess(share, N, st)
        self.assertEqual(st["arena_failures"], 0, st)
        print("board ran %d of %d tasks" % (share, N))


if __name__ == "__main__":
    mf.main()
