#!/usr/bin/env python3
"""test_worker_kill - SIGKILL a node while it holds leases during a run of
1,000 sleep tasks on two nodes: every task completes and each result reaches
the caller exactly once. Depends on floret_fixture, many_calls_driver."""

import collections

import floret_fixture as fx
from many_calls_driver import ManyCalls

N = 1000


class WorkerKillTest(fx.ClusterTest):
    def test_sigkill_a_worker_mid_run(self):
        c = self.start_cluster(("w1", "w2"), ["--slots", "4"])
        run = ManyCalls(c, N, task="sleep", args="[0.01]", expect="0.01", timeout=150)
        # Kill w2 once the run is well under way, so it holds leases.
        run.wait_progress(150, 60)
        self.assertLess(run.progress, N, "the run finished before the kill; too fast to test")
        c.nodes["w2"].kill()
        code, tasks, summary = run.finish(180)
        detail = run.stderr() + self.logs()

        self.assertEqual(summary.get("total"), N, detail)
        self.assertEqual(len(tasks), N, detail)
        self.assertEqual(summary.get("success"), N, detail)
        self.assertEqual(summary.get("pending"), 0, detail)
        self.assertEqual(summary.get("duplicate_ids"), 0)
        self.assertEqual(summary.get("changed"), 0)
        self.assertEqual(summary.get("mismatch"), 0)
        self.assertEqual(code, 0, detail)
        self.assertEqual(sorted(t["index"] for t in tasks), list(range(N)))
        self.assertEqual(len({t["id"] for t in tasks}), N)
        by_worker = collections.Counter(t["worker"] for t in tasks)
        # Both nodes worked; the survivor finished what w2 lost.
        self.assertGreater(by_worker["w1"], 0, by_worker)
        self.assertGreater(by_worker["w2"], 0, by_worker)
        self.assertEqual(by_worker["w1"] + by_worker["w2"], N, by_worker)
        self.assertTrue(c.nodes["w1"].alive(), "w1 died" + detail)


if __name__ == "__main__":
    fx.main()
