#!/usr/bin/env python3
"""test_revoke - revoke against a real broker and real nodes
(docs/protocol.md 3.13): the workflow C API (revoke.c); `floret revoke` of
--async workflows queued at their keeper, leased to its one slot, and
running there, after which the slot runs the next task at once; a call
another client owns, revoked by the id `floret status` shows; and ids that
cannot be revoked, each with its own clear error.
A Lua task spinning in a loop stops at its hook when revoked.
Depends on floret_fixture and deploy_fixture."""

import json
import os
import re
import subprocess

import deploy_fixture as dfx
import floret_fixture as fx


def node_status(cluster, node):
    """node's entry in `floret status --json` ({} when it is not there)."""
    r = cluster.floret("status", "--json", "--wait", "500", timeout=30)
    for n in json.loads(r.stdout):
        if n.get("id") == node:
            return n
    return {}


class RevokeTest(fx.ClusterTest):
    def status(self, node):
        return node_status(self.cluster, node)

    def test_apply_and_revoke_from_c(self):
        c = self.start_cluster(("w1",), ["--slots", "4"])
        r = subprocess.run([os.environ["REVOKE_BIN"]], env=c.env(),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.logs())
        self.assertEqual(r.stdout.split("\n")[:3],
                         ["ok chord", "ok revoke", "ok bad canvas"])
        # The node is free again: a task runs at once.
        q = c.floret("call", "add", "2", "3", "--timeout", "10")
        self.assertEqual(q.stdout.strip(), "5", q.stderr + self.logs())

    def run_async(self, expr):
        r = self.cluster.floret("run", "--async", "--owner", "w1", expr, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        return r.stdout.strip()

    def test_queued_leased_and_running_on_one_slot(self):
        c = self.start_cluster(("w1",), ["--slots", "1", "-v"])
        # w1 keeps them and runs them on its one slot: the first runs, the
        # second is leased to it and waits (2 per slot before a run is
        # known), the third waits in w1's queue.
        running, leased, queued = (self.run_async("sleep(30)") for _ in range(3))
        fx.wait_until(lambda: (lambda n: n.get("queued") == 1 and
                               len(n.get("running", [])) == 1)(self.status("w1")),
                      20, interval=0.3, what="one sleep running and one queued on w1")
        for wid in (queued, leased, running):
            r = c.floret("revoke", wid, timeout=30)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, wid + " revoked"),
                             r.stderr + self.logs())
        # The slot is free: the next task runs now, not 30 s from now.
        q = c.floret("call", "add", "2", "3", "--timeout", "10")
        self.assertEqual((q.returncode, q.stdout.strip()), (0, "5"), q.stderr + self.logs())
        for wid in (queued, leased, running):
            r = c.floret("result", wid, "--timeout", "5")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("Revoked", r.stderr)
        log = c.nodes["w1"].log_text()
        # The leased one was dropped unrun, the running one cancelled, the
        # queued one never reached the worker; no sleep ran to its end.
        self.assertEqual(len(re.findall(r"task sleep w1:\d+ attempt 1 revoked before it started", log)),
                         1, log)
        self.assertEqual(len(re.findall(r"task sleep w1:\d+ attempt 1 revoked while running: cancelled", log)),
                         1, log)
        self.assertEqual(len(re.findall(r"task sleep \S+ attempt", log)), 2, log)
        self.assertNotRegex(log, r"task sleep \S+ attempt \d+ (succeeded|failed)")
        self.assertRegex(log, r"task add \S+ attempt 1 succeeded")

    def test_revoke_a_call_of_another_client(self):
        c = self.start_cluster(("w1",), ["--slots", "1", "-v"])
        call = subprocess.Popen([fx.FLORET_BIN, "call", "sleep", "30", "--timeout", "60"],
                                env=c.env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        fx._live_processes.append(call)
        self.addCleanup(fx.stop_process, call)
        # What `floret status` shows as running is the id to revoke.
        run = fx.wait_until(lambda: self.status("w1").get("running"), 20,
                            interval=0.3, what="the sleep running on w1")[0]
        wid = "%s:%d" % (run["owner"], run["id"])
        r = c.floret("revoke", "--terminate", wid, timeout=30)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, wid + " revoked"),
                         r.stderr + self.logs())
        out, err = call.communicate(timeout=20)
        self.assertEqual(call.returncode, 1, out + err)
        self.assertIn("Revoked", err)
        self.assertIn("revoked by", err)
        log = c.nodes["w1"].log_text()
        self.assertRegex(log, r"revoked while running: cancelled \(terminate\)")
        q = c.floret("call", "add", "1", "1", "--timeout", "10")
        self.assertEqual(q.stdout.strip(), "2", q.stderr + self.logs())

    def test_ids_that_cannot_be_revoked(self):
        c = self.start_cluster(("w1",), ["--slots", "1"])
        done = self.run_async("add(1,2)")
        r = c.floret("result", done, "--timeout", "20")
        self.assertEqual(r.stdout.strip(), "3", r.stderr + self.logs())
        r = c.floret("revoke", done)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("error: %s had already ended (SUCCESS); nothing to revoke" % done,
                      r.stderr)
        r = c.floret("revoke", "w1:999")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("error: w1:999: NotFound: no task or workflow 999 on node w1", r.stderr)
        for bad in ("w1", "w1:", "w1:0", "w1:x", ":3"):
            r = c.floret("revoke", bad)
            self.assertEqual(r.returncode, 2, bad + ": " + r.stderr)
            self.assertIn("is not a task or workflow id", r.stderr)
        r = c.floret("revoke", "bad/node:3")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("'bad/node:3' is not a task or workflow id", r.stderr)
        r = c.floret("revoke", "--timeout", "1.5", "ghost:1")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("error: ghost:1: no answer from node ghost within 1.5 s", r.stderr)
        # w1 is fine after all that.
        q = c.floret("call", "add", "2", "2", "--timeout", "10")
        self.assertEqual(q.stdout.strip(), "4", q.stderr + self.logs())


class LuaRevokeTest(dfx.DeployTest):
    def test_a_spinning_lua_task_stops_at_its_hook(self):
        # A budget that would let the loop spin for many minutes.
        c = self.start_trusting(("w1",), ["--slots", "1", "-v", "--lua-steps", "1000000000000"])
        src = "local M = {}\nfunction M.spin() while true do end end\nreturn M\n"
        v = self.version_of(self.deploy(self.write_module("lp", src), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"lp@" + v})
        r = c.floret("run", "--async", "--owner", "w1", "lp.spin()", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        wid = r.stdout.strip()
        fx.wait_until(lambda: node_status(c, "w1").get("running"), 20,
                      interval=0.3, what="lp.spin running on w1")
        r = c.floret("revoke", wid, timeout=30)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, wid + " revoked"),
                         r.stderr + self.logs())
        self.assert_call("5", "add", "2", "3")
        self.assertRegex(c.nodes["w1"].log_text(),
                         r"task lp.spin w1:\d+ attempt 1 revoked while running: cancelled")


if __name__ == "__main__":
    fx.main()
