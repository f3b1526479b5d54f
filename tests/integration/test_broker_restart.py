#!/usr/bin/env python3
"""test_broker_restart - stop the broker in the middle of a run and start it
again on the same port: the nodes and the client reconnect and the run
completes, each result once; a broker killed outright costs seconds, not the
30 s lease of what died with it (docs/protocol.md 3.10). Depends on
floret_fixture, many_calls_driver."""

import time

import floret_fixture as fx
from many_calls_driver import ManyCalls

N = 400


class BrokerRestartTest(fx.ClusterTest):
    def test_broker_restart_mid_run(self):
        c = self.start_cluster(("w1", "w2"), ["--slots", "2"])
        port = c.broker.port
        # A short lease ttl bounds how long a lost lease or done takes to recover.
        run = ManyCalls(c, N, task="sleep", args="[0.01]", expect="0.01", timeout=150,
                        lease_ttl_ms=3000)
        run.wait_progress(60, 60)
        self.assertLess(run.progress, N, "the run finished before the restart")
        c.broker.stop()
        time.sleep(1.0)
        c.broker.start()
        self.assertEqual(c.broker.port, port)
        code, tasks, summary = run.finish(180)
        detail = run.stderr() + self.logs()
        self.assertEqual(summary.get("success"), N, detail)
        self.assertEqual(summary.get("pending"), 0, detail)
        self.assertEqual(summary.get("duplicate_ids"), 0)
        self.assertEqual(summary.get("changed"), 0)
        self.assertEqual(len(tasks), N)
        self.assertEqual(code, 0, detail)
        for name in ("w1", "w2"):
            self.assertTrue(c.nodes[name].alive(), name + " died" + detail)
        # The nodes are back online on the restarted broker and still serve.
        fx.wait_online(port, ["w1", "w2"])
        r = c.floret("call", "add", "2", "3", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())

    def test_broker_killed_recovers_before_leases_expire(self):
        # The default lease ttl (30 s): a lease or done that died with the
        # broker would hold its task that long without reconciliation.
        n = 2000
        c = self.start_cluster(("w1", "w2"), ["--slots", "2"])
        run = ManyCalls(c, n, task="sleep", args="[0.005]", expect="0.005", timeout=150)
        run.wait_progress(n // 4, 60)
        self.assertLess(run.progress, n // 2, "the run was nearly over before the kill")
        c.broker.kill()
        time.sleep(2.0)
        c.broker.start()
        back = time.monotonic()
        code, tasks, summary = run.finish(180)
        took = time.monotonic() - back
        detail = run.stderr() + self.logs()
        self.assertEqual(summary.get("success"), n, detail)
        self.assertEqual(summary.get("pending"), 0, detail)
        self.assertEqual(summary.get("duplicate_ids"), 0)
        self.assertEqual(summary.get("changed"), 0)
        self.assertEqual(len(tasks), n)
        self.assertEqual(code, 0, detail)
        # What is left takes a few seconds on 4 slots; a task that waited
        # out its lease would end 28 s or more after the broker came back.
        self.assertLess(took, 20.0, "the run ended %.1f s after the broker came back, as if "
                        "leases lost with it had expired%s" % (took, detail))


if __name__ == "__main__":
    fx.main()
