#!/usr/bin/env python3
"""test_control_defects - the smaller holes in signed control, each with
real nodes and a real broker: a signed shutdown captured and replayed to
the node after it restarted does not stop it again; a deploy signed with a
timestamp 290 s ahead is refused and does not block the next real deploy;
a signed deploy captured before an undeploy and published again (retained)
is refused by the running node, which puts the undeploy back, so a node
started afterwards does not load it; a secret key given as --trust is
refused with an explanation; a task stuck
in one C call (a pathological string.find) does not keep SIGTERM from
stopping the node, whose presence then says offline.
Depends on floret_fixture, deploy_fixture and python3-cryptography (to sign
a message with a timestamp of the test's choosing)."""

import os
import signal
import subprocess
import time

import deploy_fixture as dfx
import floret_fixture as fx


class ControlDefectsTest(dfx.DeployTest):
    def setUp(self):
        self.c = self.start_trusting(("w1",))
        self.watch = fx.Mqtt(self.c.broker.port, "ctl-watch")
        self.addCleanup(self.watch.close)
        self.watch.subscribe(fx.PREFIX + "ctl")

    def test_shutdown_replayed_after_restart_is_refused(self):
        r = self.cluster.floret("shutdown", "w1", "--key", self.key)
        self.assertEqual(r.returncode, 0, r.stderr)
        _, captured, _ = self.watch.expect(
            lambda t, p, r: t == fx.PREFIX + "ctl" and b'"shutdown"' in p, 10, "the shutdown")
        fx.wait_until(lambda: not self.c.nodes["w1"].alive(), 15, what="w1 to stop")
        os.rename(self.c.nodes["w1"].log, self.c.nodes["w1"].log + ".1")
        self.add_trusting("w1")
        fx.wait_online(self.c.broker.port, ["w1"])
        self.watch.publish(fx.PREFIX + "ctl", captured)
        self.wait_log("w1", "refused shutdown of w1: it was signed")
        self.assertIn("before this node started", self.c.nodes["w1"].log_text())
        time.sleep(0.5)
        self.assertTrue(self.c.nodes["w1"].alive(), self.logs())
        self.assert_call("3", "add", "1", "2")

    def test_future_deploy_refused_and_not_blocking(self):
        now_ms = int(time.time() * 1000)
        payload = dfx.sign_deploy(self.key, "m", "return {f = function() return 1 end}\n",
                              now_ms + 290 * 1000)
        self.watch.publish(fx.PREFIX + "ctl/m", payload, retain=True)
        self.wait_log("w1", "refused deploy of m: its timestamp")
        self.assert_unknown("m.f")
        # The operator's real deploy goes through at once.
        path = self.write_module("m", "return {f = function() return 2 end}\n")
        v = self.version_of(self.deploy(path, "--key", self.key))
        dfx.wait_modules(self.c.broker.port, ["w1"], {"m@" + v})
        self.assert_call("2", "m.f")

    def test_old_deploy_republished_after_undeploy(self):
        watch = fx.Mqtt(self.c.broker.port, "ctl-watch-m")
        self.addCleanup(watch.close)
        watch.subscribe(fx.PREFIX + "ctl/m")
        path = self.write_module("m", "return {f = function() return 1 end}\n")
        v = self.version_of(self.deploy(path, "--key", self.key))
        dfx.wait_modules(self.c.broker.port, ["w1"], {"m@" + v})

        def kind_of(want):
            return lambda t, p, r: p and fx.parse_envelope(p).get("kind") == want
        _, old_deploy, _ = watch.expect(kind_of("deploy"), 10, "the deploy")
        r = self.cluster.floret("undeploy", "m", "--key", self.key)
        self.assertEqual(r.returncode, 0, r.stderr)
        dfx.wait_modules(self.c.broker.port, ["w1"], set())
        # The replay, retained: it replaces the tombstone on the broker.
        watch.publish(fx.PREFIX + "ctl/m", old_deploy, retain=True)
        self.wait_log("w1", "published the newest again")
        self.add_trusting("w3")
        fx.wait_online(self.c.broker.port, ["w3"])
        time.sleep(1.0)
        seen = dfx.presences(self.c.broker.port)
        self.assertEqual(seen["w3"].get("modules", []), [], self.logs())
        self.assertEqual(seen["w1"].get("modules", []), [], self.logs())
        self.assert_unknown("m.f")
        # ...and the operator's next deploy still goes through.
        path = self.write_module("m", "return {f = function() return 3 end}\n")
        v = self.version_of(self.deploy(path, "--key", self.key))
        dfx.wait_modules(self.c.broker.port, ["w1", "w3"], {"m@" + v})
        self.assert_call("3", "m.f")

    def test_secret_key_as_trust_is_refused(self):
        n = self.cluster.add_node("bad", ["--slots", "1", "--trust", self.key])
        fx.wait_until(lambda: not n.alive(), 10, what="the node to refuse its options")
        self.assertNotEqual(n.proc.returncode, 0)
        self.assertIn("is a secret (signing) key", n.log_text())
        self.assertIn(".pub", n.log_text())

    def test_stuck_task_does_not_block_stop(self):
        """On a thread a task stuck in a C call cannot be stopped: the node
        leaves it behind."""
        n = self.stop_with_stuck_task("thread")
        self.assertIn("did not stop when cancelled", n.log_text())

    def test_stuck_task_is_killed_at_stop(self):
        """In a child process (the default for Lua) it is killed."""
        n = self.stop_with_stuck_task("auto")
        self.assertNotIn("did not stop when cancelled", n.log_text())
        self.assertIn("ended by signal 9 (Killed); the slot gets a new one", n.log_text())

    def stop_with_stuck_task(self, pool):
        n = self.add_trusting("stuck", ["--stop-grace", "300", "--pool", pool])
        fx.wait_online(self.c.broker.port, ["stuck"])
        src = ('return {f = function() '
               'return string.find(string.rep("a", 50000), ".-.-.-.-b") end}\n')
        v = self.version_of(self.deploy(self.write_module("slow", src), "--key", self.key))
        dfx.wait_modules(self.c.broker.port, ["stuck"], {"slow@" + v})
        call = subprocess.Popen([fx.FLORET_BIN, "call", "slow.f", "--route", "stuck",
                                 "--timeout", "30"], env=self.c.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: call.poll() is None and call.kill())
        fx.wait_until(lambda: dfx.presences(self.c.broker.port).get("stuck", {})
                      .get("load", 0) > 0, 10, what="the task to start")
        time.sleep(0.3)
        t0 = time.monotonic()
        n.proc.send_signal(signal.SIGTERM)
        try:
            n.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.fail("the node did not stop within 15 s of SIGTERM" + self.logs())
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(n.proc.returncode, 0, n.log_text())
        self.assertEqual(dfx.presences(self.c.broker.port).get("stuck", {}).get("state"),
                         "offline", self.logs())
        return n


if __name__ == "__main__":
    fx.main()
