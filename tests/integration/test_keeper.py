#!/usr/bin/env python3
"""test_keeper - durable keepers and task states (docs/protocol.md 3.8,
3.14; docs/states.md) with a real broker and real `floret node` processes:
a keeper with --state-dir killed with SIGKILL in the middle of a workflow
and started again finishes it with the right value (a client waiting
across the restart gets it too) and still answers for a workflow that had
ended; workflow ids are never given twice across restarts, with or
without a state dir, so an old id never reads a newer workflow's value; an
unknown keeper is reported as such at once; STARTED means a worker runs
the task (8 sleeps leased to 4 slots: exactly 4 reported started before the
first outcome, by counts), RETRY shows while a retry waits, and
`floret result --state --json` shows state, node, attempts and times.
Depends on floret_fixture."""

import json
import os
import subprocess
import time

import floret_fixture as fx


class KeeperTest(fx.ClusterTest):
    def keeper(self, name, state_dir=None, slots="2"):
        extra = ["--slots", slots]
        if state_dir:
            extra += ["--state-dir", state_dir]
        node = self.cluster.add_node(name, extra)
        fx.wait_online(self.cluster.broker.port, [name])
        return node

    def restart(self, name, state_dir=None):
        self.cluster.nodes[name].kill()
        return self.keeper(name, state_dir)

    def submit(self, expr, owner):
        r = self.cluster.floret("run", expr, "--async", "--owner", owner)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        wid = r.stdout.strip()
        self.assertRegex(wid, r"^%s:[0-9]+$" % owner)
        return wid

    def result(self, wid, *extra, timeout=30):
        return self.cluster.floret("result", wid, "--timeout", str(timeout),
                                   *extra, timeout=timeout + 30)

    def state(self, wid):
        r = self.result(wid, "--state", "--json", timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        return json.loads(r.stdout)

    def wait_state(self, wid, want, timeout=20):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            s = self.state(wid)
            seen.append(s["state"])
            if s["state"] == want:
                return s
            time.sleep(0.1)
        self.fail("%s never %s (seen %s)%s" % (wid, want, seen, self.logs()))

    def test_kill9_mid_workflow_then_resume(self):
        self.start_cluster(())
        state_dir = os.path.join(self.cluster.workdir, "state-k1")
        self.keeper("k1", state_dir)
        self.keeper("w1")
        done = self.submit("add(2,2)", "k1")
        self.assertEqual(json.loads(self.result(done).stdout), 4)
        # add(1,1)=2 -> sleep(2) returns 2 -> mul(2,10)=20
        wid = self.submit("add(1,1) | sleep() | mul(10)", "k1")
        s = self.wait_state(wid, "STARTED")
        self.assertIn(s["node"], ("k1", "w1"))
        self.assertIsNotNone(s["started"])
        self.assertIsNone(s["ended"])
        waiter = subprocess.Popen(
            [fx.FLORET_BIN, "result", wid, "--timeout", "60"],
            env=self.cluster.env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)  # the sleep step is running now
            self.restart("k1", state_dir)
            out, err = waiter.communicate(timeout=90)
        finally:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait()
        self.assertEqual(waiter.returncode, 0, err + self.logs())
        self.assertEqual(json.loads(out), 20)
        self.assertIn("1 workflow(s) resumed", self.cluster.nodes["k1"].log_text())
        # Read again after the restart, and the one that ended before it.
        self.assertEqual(json.loads(self.result(wid).stdout), 20)
        g = self.result(done)
        self.assertEqual(g.returncode, 0, g.stderr + self.logs())
        self.assertEqual(json.loads(g.stdout), 4)
        s = self.state(wid)
        self.assertEqual(s["state"], "SUCCESS")
        self.assertEqual(s["value"], 20)
        self.assertGreaterEqual(s["attempts"], 3)
        for key in ("submitted", "started", "ended"):
            self.assertRegex(s[key], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_ids_never_reused_across_restarts(self):
        self.start_cluster(())
        state_dir = os.path.join(self.cluster.workdir, "state-k1")
        self.keeper("k1", state_dir)
        self.keeper("k2")  # no state dir
        ids = {"k1": [], "k2": []}
        values = {}
        for round_ in range(3):
            for k in ("k1", "k2"):
                expr = "add(%d,%d)" % (round_, 100 if k == "k1" else 200)
                wid = self.submit(expr, k)
                ids[k].append(wid)
                values[wid] = round_ + (100 if k == "k1" else 200)
                g = self.result(wid)
                self.assertEqual(json.loads(g.stdout), values[wid], g.stderr)
            self.restart("k1", state_dir)
            self.restart("k2")
        for k in ("k1", "k2"):
            nums = [int(w.split(":")[1]) for w in ids[k]]
            self.assertEqual(len(set(nums)), 3, ids[k])
            self.assertEqual(nums, sorted(nums), ids[k])
        # With a state dir ids count on: 1, 2, 3.
        self.assertEqual([int(w.split(":")[1]) for w in ids["k1"]], [1, 2, 3])
        # The durable keeper still answers every one with its own value.
        for wid in ids["k1"]:
            g = self.result(wid)
            self.assertEqual(json.loads(g.stdout), values[wid], g.stderr + self.logs())
        # Without a state dir an old id is unknown, never another's value.
        for wid in ids["k2"]:
            g = self.result(wid)
            self.assertEqual(g.returncode, 1, g.stdout)
            self.assertIn("NotFound", g.stderr)

    def test_unknown_keeper_is_reported_at_once(self):
        self.start_cluster(("w1",))
        t0 = time.monotonic()
        g = self.result("nosuch:1", timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(g.returncode, 1, g.stdout)
        self.assertIn("UnknownKeeper", g.stderr)
        self.assertIn("nosuch", g.stderr)
        self.assertIn("w1", g.stderr)  # the online ones are named
        self.assertLess(took, 15, "waited out the 30 s timeout")
        g = self.result("nosuch:1", "--state", timeout=30)
        self.assertEqual(g.returncode, 1)
        self.assertIn("UnknownKeeper", g.stderr)

    def test_run_timeout_says_running_not_untaken(self):
        self.start_cluster(("w1",))
        r = self.cluster.floret("run", "--timeout", "1", "sleep(3)")
        self.assertEqual(r.returncode, 1)
        self.assertIn("still running", r.stderr)
        self.assertNotIn("no node", r.stderr)

    def test_retry_state_is_seen(self):
        self.start_cluster(("w1",))
        wid = self.submit('fail("flaky", retryable=true).set(retries=6)', "w1")
        seen = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s = self.state(wid)
            seen.add(s["state"])
            if s["state"] == "FAILURE":
                break
            time.sleep(0.05)
        self.assertIn("RETRY", seen)
        self.assertEqual(s["state"], "FAILURE")
        self.assertEqual(s["error"]["type"], "TaskError")
        self.assertEqual(s["attempts"], 7)
        self.assertEqual(s["node"], "w1")

    def test_json_of_a_failed_group(self):
        self.start_cluster(("w1",))
        wid = self.submit('[add(1,1), fail("x")]', "w1")
        r = self.result(wid, "--json")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        s = json.loads(r.stdout)
        self.assertEqual(s["id"], wid)
        self.assertEqual(s["state"], "FAILURE")
        self.assertEqual(s["partial"], [2, None])
        self.assertEqual(s["error"]["type"], "TaskError")
        self.assertEqual(s["attempts"], 2)
        self.assertNotIn("value", s)

    def test_started_only_when_a_slot_runs_it(self):
        """A hand-written owner leases 8 sleeps to a 4-slot worker: the
        worker reports `started` for 4 of them, then one more each time one
        ends; a lease without track_started gets no `started` at all."""
        self.start_cluster(("w1",), ["--slots", "4"])
        m = fx.Mqtt(self.cluster.broker.port, "me")
        self.addCleanup(m.close)
        m.subscribe(fx.PREFIX + "node/me/in")
        inbox = lambda t, p, r: t == fx.PREFIX + "node/me/in"
        m.publish(fx.PREFIX + "work",
                  json.dumps({"v": 1, "kind": "work", "from": "me", "pending": 8}))
        _, p, _ = m.expect(lambda t, p, r: inbox(t, p, r) and
                           fx.parse_envelope(p)["kind"] == "fetch", 10, "fetch")
        fetch = fx.parse_envelope(p)
        self.assertGreaterEqual(fetch["credit"], 8)

        def lease(ids, track):
            msg = {"v": 1, "kind": "lease", "from": "me", "inc": 7,
                   "fid": fetch["fid"], "ttl_ms": 30000,
                   "tasks": [{"id": i, "name": "sleep", "args": [1.0],
                              "attempt": 1} for i in ids]}
            if track:
                msg["track_started"] = True
            m.publish(fx.PREFIX + "node/w1/in", json.dumps(msg))

        def collect(n_done):
            started, done, order = [], [], []
            deadline = time.monotonic() + 30
            while len(done) < n_done and time.monotonic() < deadline:
                for t, p, r in m.drain(0.2):
                    if not inbox(t, p, r):
                        continue
                    e = fx.parse_envelope(p)
                    if e["kind"] == "started":
                        started += e["ids"]
                        order += [("s", i) for i in e["ids"]]
                    elif e["kind"] == "done":
                        ids = [x["id"] for x in e["results"]]
                        done += ids
                        order += [("d", i) for i in ids]
            return started, done, order

        lease(range(1, 9), True)
        started, done, order = collect(8)
        self.assertEqual(sorted(done), list(range(1, 9)), self.logs())
        self.assertEqual(sorted(started), list(range(1, 9)), order)
        first_done = next(k for k, (what, _) in enumerate(order) if what == "d")
        before = [i for what, i in order[:first_done] if what == "s"]
        self.assertEqual(len(before), 4, order)
        running = 0
        for what, _ in order:  # never more than 4 started and not done
            running += 1 if what == "s" else -1
            self.assertLessEqual(running, 4, order)
        for i in range(1, 9):
            self.assertLess(order.index(("s", i)), order.index(("d", i)), order)
        # An owner that does not ask (an older one) hears no `started`.
        lease(range(11, 13), False)
        started, done, order = collect(2)
        self.assertEqual(sorted(done), [11, 12], self.logs())
        self.assertEqual(started, [])


if __name__ == "__main__":
    fx.main()
