#!/usr/bin/env python3
"""test_broker_wait - boot order does not matter: a `floret node` started
before its broker keeps waiting (no exit, a handful of log lines, not one
per attempt) and serves once the broker comes up on its port 12 s later; SIGTERM while it waits stops it cleanly (exit 0). A client still
fails fast: `floret call` against a port where nothing listens exits 3
(test_call), and a node whose password is refused exits 3 at once
(test_acl). Depends on floret_fixture (mosquitto, real processes)."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import floret_fixture as fx


class BrokerWaitTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="floret-it-wait-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.broker = fx.Broker(self.dir, port=fx.free_port())
        self.addCleanup(self.broker.stop)

    def node(self, name):
        n = fx.Node(self.broker, name, self.dir, ["--slots", "2"])
        self.addCleanup(n.stop)
        return n

    def wait_log(self, node, text, timeout):
        fx.wait_until(lambda: text in node.log_text(), timeout,
                      what="%r in the log of %s" % (text, node.name))

    def test_node_started_before_its_broker_serves(self):
        t0 = time.monotonic()
        n = self.node("early")
        self.wait_log(n, "still cannot connect", 20)
        # The broker comes up 12 s after the node: past the 10 s after
        # which a node used to give up, and several attempts with backoff.
        time.sleep(max(0.0, t0 + 12.0 - time.monotonic()))
        self.assertTrue(n.alive(), "the node gave up waiting:\n" + n.log_text())
        lines = [l for l in n.log_text().splitlines() if "connect to broker" in l]
        # 3 attempts logged one by one, then one line a minute.
        self.assertLessEqual(len(lines), 5, "\n".join(lines))
        self.broker.start()
        fx.wait_online(self.broker.port, ["early"], timeout=30)
        env = dict(os.environ, FLORET_BROKER=self.broker.url)
        r = subprocess.run([fx.FLORET_BIN, "call", "add", "2", "3", "--route", "early",
                            "--timeout", "20"], env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"),
                         r.stderr + n.log_text() + fx.read_text(self.broker.log))

    def test_sigterm_while_waiting_stops_cleanly(self):
        n = self.node("waiting")
        self.wait_log(n, "cannot connect", 20)
        t0 = time.monotonic()
        rc = fx.stop_process(n.proc, sig=signal.SIGTERM, grace=10.0)
        self.assertEqual(rc, 0, n.log_text())
        self.assertLess(time.monotonic() - t0, 5.0, n.log_text())
        self.assertIn("before the broker answered", n.log_text())


if __name__ == "__main__":
    fx.main()
