#!/usr/bin/env python3
"""test_mcu_faults - the firmware in a cluster with a POSIX node, under
faults: QEMU killed while the board holds leases of a running workflow
(its tasks run on the POSIX node instead and the workflow's result is
whole and correct), and the broker restarted under a board (it reconnects
with backoff and serves again). Depends on mcu_fixture."""

import json
import subprocess
import time

import mcu_fixture as mf
from mcu_fixture import fx


class FaultTest(mf.McuTest):
    def test_board_killed_mid_task(self):
        c = self.start_cluster(())
        fw = self.add_board("mcu1")
        n = 8
        expr = "sleep.map(%s)" % json.dumps([0.6] * n)
        run = subprocess.Popen([fx.FLORET_BIN, "run", "--timeout", "90", expr],
                               env=c.env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: run.poll() is None and run.kill())
        # Only the board is up: it takes the first tasks.
        st = fw.wait_stats(lambda s: s["held"] >= 1, 30, "the board holding a lease")
        self.assertLess(st["executed"], n, st)
        c.add_node("p1", ["--slots", "2"])
        fx.wait_online(c.broker.port, ["p1"])
        fw.wait_stats(lambda s: s["held"] >= 1, 30, "the board holding a lease again")
        done_by_board = fw.stats()["executed"]
        fw.kill()
        out, err = run.communicate(timeout=120)
        self.assertEqual(run.returncode, 0, err + self.logs())
        self.assertEqual(json.loads(out), [0.6] * n, out)
        self.assertLess(done_by_board, n)
        p1_log = c.nodes["p1"].log_text()
        self.assertTrue(c.nodes["p1"].alive(), p1_log)

    def test_broker_restart(self):
        c = self.start_cluster(())
        fw = self.add_board("mcu1")
        r = c.floret("call", "add", "1", "2", "--route", "mcu1", "--timeout", "20", timeout=40)
        self.assertEqual(r.stdout.strip(), "3", r.stderr + self.logs())
        c.broker.stop()
        time.sleep(1.0)
        c.broker.start()
        fw.wait_stats(lambda s: s["connects"] >= 2, 40, "the board reconnected")
        fx.wait_online(c.broker.port, ["mcu1"], timeout=30)
        r = c.floret("call", "add", "20", "22", "--route", "mcu1", "--timeout", "30", timeout=60)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "42"), r.stderr + self.logs())
        self.assertIn("reconnecting", fw.log_text())


if __name__ == "__main__":
    mf.main()
