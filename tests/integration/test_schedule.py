#!/usr/bin/env python3
"""test_schedule - periodic workflows kept by a durable keeper
(docs/schedules.md, docs/protocol.md 3.16) with a real broker and real
`floret node` processes: an `@every 1s` schedule runs again and again,
each run's id KEEPER:N gives its result with `floret result`, `floret
schedule list` (table and --json) shows the schedule with its next run,
last run and state, `remove` stops the runs; after `kill -9` of the keeper
the schedule is back with its runs counted on, and a run missed while it
was down runs once, not once per missed interval; a keeper without
--state-dir refuses a schedule (NotDurable), and a bad cron expression is
a usage error naming the field.
Depends on floret_fixture."""

import json
import os
import re
import time

import floret_fixture as fx


class ScheduleTest(fx.ClusterTest):
    def keeper(self, name, state_dir=None, slots="2"):
        extra = ["--slots", slots]
        if state_dir:
            extra += ["--state-dir", state_dir]
        node = self.cluster.add_node(name, extra)
        fx.wait_online(self.cluster.broker.port, [name])
        return node

    def schedule(self, *args, code=0):
        r = self.cluster.floret("schedule", *args, timeout=60)
        self.assertEqual(r.returncode, code, "schedule %s: %s%s%s" % (
            args, r.stdout, r.stderr, self.logs()))
        return r

    def listed(self, owner=None):
        extra = ["--owner", owner] if owner else []
        r = self.schedule("list", "--json", *extra)
        return {s["name"]: s for s in json.loads(r.stdout)}

    def wait_runs(self, name, at_least, timeout=30):
        deadline = time.monotonic() + timeout
        s = None
        while time.monotonic() < deadline:
            s = self.listed().get(name)
            if s and s["runs"] >= at_least and s.get("last_state") == "SUCCESS":
                return s
            time.sleep(0.3)
        self.fail("schedule %s never ran %d times (last seen %s)%s" % (
            name, at_least, s, self.logs()))

    def result(self, wid):
        r = self.cluster.floret("result", wid, "--timeout", "20", timeout=60)
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (wid, r.stderr, self.logs()))
        return json.loads(r.stdout)

    def starts(self, node):
        return len(re.findall(r"schedule \S+: started workflow",
                              node.log_text()))

    def setUp(self):
        self.start_cluster(nodes=())
        self.state_dir = os.path.join(self.cluster.workdir, "state-k1")
        self.k1 = self.keeper("k1", self.state_dir)

    def test_every_second_runs_results_list_remove(self):
        r = self.schedule("add", "tick", "@every 1s", "add(20, 22)")
        self.assertRegex(r.stdout, r"^schedule tick added on k1; next run "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$")
        s = self.wait_runs("tick", 3)
        self.assertEqual(s["keeper"], "k1")
        self.assertEqual(s["cron"], "@every 1s")
        self.assertEqual(s["canvas"], {"task": "add", "args": [20, 22]})
        self.assertGreater(s["next_ms"], s["last_ms"])
        # Every run is a workflow of its own, read like any other.
        for n in range(1, s["last_id"] + 1):
            self.assertEqual(self.result("k1:%d" % n), 42)
        table = self.schedule("list").stdout.splitlines()
        self.assertEqual(table[0].split()[:4], ["NAME", "KEEPER", "CRON", "NEXT"])
        row = [line for line in table[1:] if line.startswith("tick ")]
        self.assertEqual(len(row), 1, table)
        self.assertRegex(row[0], r"^tick +k1 +@every 1s +\S+Z +k1:\d+ +SUCCESS +\d+$")
        # remove: no run starts after it
        r = self.schedule("remove", "tick")
        self.assertEqual(r.stdout, "schedule tick removed from k1\n")
        before = self.starts(self.k1)
        time.sleep(2.5)
        self.assertEqual(self.starts(self.k1), before, self.logs())
        self.assertEqual(self.listed(), {})
        r = self.schedule("remove", "tick", code=1)
        self.assertIn("no schedule 'tick'", r.stderr)

    def test_kill9_keeps_the_schedule(self):
        self.schedule("add", "beat", "@every 1s", "mul(6, 7)", "--owner", "k1")
        before = self.wait_runs("beat", 2)
        self.k1.kill()
        self.k1 = self.keeper("k1", self.state_dir)
        after = self.wait_runs("beat", before["runs"] + 2)
        self.assertGreater(after["last_id"], before["last_id"])
        self.assertEqual(after["added_ms"], before["added_ms"])
        # Runs from before and after the restart both still answer.
        self.assertEqual(self.result("k1:%d" % before["last_id"]), 42)
        self.assertEqual(self.result("k1:%d" % after["last_id"]), 42)

    def test_missed_run_runs_once_at_restart(self):
        self.schedule("add", "slow", "@every 3s", "add(1, 1)")
        first = self.wait_runs("slow", 1)
        self.k1.kill()
        base = self.starts(self.k1)  # the log file is appended to
        time.sleep(7.5)  # two intervals pass while it is down
        self.k1 = self.keeper("k1", self.state_dir)
        fx.wait_until(lambda: self.starts(self.k1) >= base + 1, 10,
                      what="the missed run")
        time.sleep(1.0)  # well before the next interval ends
        self.assertEqual(self.starts(self.k1), base + 1, self.logs())
        self.assertIn("schedule slow missed its run while the keeper was down",
                      self.k1.log_text())
        s = self.listed()["slow"]
        self.assertEqual(s["runs"], first["runs"] + 1)

    def test_refusals(self):
        self.keeper("plain")  # no --state-dir
        r = self.schedule("add", "x", "@every 1s", "add(1,2)", "--owner",
                          "plain", code=1)
        self.assertIn("NotDurable", r.stderr)
        r = self.schedule("add", "x", "0 25 * * *", "add(1,2)", code=2)
        self.assertIn("cron field 2 (hour): 25 is out of range 0-23", r.stderr)
        r = self.schedule("add", "x", "@every 1s", "add(1,", code=2)
        self.assertIn("WORKFLOW", r.stderr)
        self.schedule("add", "x", "@every 1h", "add(1,2)")
        r = self.schedule("add", "x", "@every 1h", "add(1,2)", code=1)
        self.assertIn("Exists", r.stderr)
        # list asks every durable keeper, not the plain one
        self.assertEqual(list(self.listed()), ["x"])
        self.assertEqual(self.listed("plain"), {})


if __name__ == "__main__":
    fx.main()
