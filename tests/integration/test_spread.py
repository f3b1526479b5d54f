#!/usr/bin/env python3
"""test_spread - slow tasks spread over the nodes that run them, whatever
came before: on 4 one-slot nodes, after 2,000 quick adds (which grow every
node's credit to hundreds), a burst of 8 sleep(1) from a new client runs at
most 2 on any node. Checked by counts, not by time. Depends on
floret_fixture, many_calls_driver."""

import collections

import floret_fixture as fx
from many_calls_driver import ManyCalls


class SpreadTest(fx.ClusterTest):
    def run_calls(self, n, task, args, expect):
        run = ManyCalls(self.cluster, n, task=task, args=args, expect=expect,
                        timeout=120)
        code, tasks, summary = run.finish(150)
        detail = run.stderr() + self.logs()
        self.assertEqual((code, summary.get("success")), (0, n), detail)
        return collections.Counter(t["worker"] for t in tasks)

    def test_slow_burst_after_quick_tasks(self):
        names = ("n1", "n2", "n3", "n4")
        self.start_cluster(names, ["--slots", "1"])
        quick = self.run_calls(2000, "add", "[1,2]", "3")
        self.assertEqual(sum(quick.values()), 2000)
        for round_ in range(2):
            slow = self.run_calls(8, "sleep", "[1]", "1")
            self.assertEqual(sum(slow.values()), 8, slow)
            self.assertLessEqual(max(slow.values()), 2,
                                 "round %d: %s" % (round_, dict(slow)))
            self.assertEqual(set(slow), set(names), slow)


if __name__ == "__main__":
    fx.main()
