#!/usr/bin/env python3
"""test_events - task events and stats on the wire (docs/protocol.md 3.11)
with real nodes and a real broker: `floret events --json` shows the
received, started and succeeded events of a call and the failed event of a
failing one with its error; --failed and --task filter; nodes send no event
until asked (or started with -E) and every node's stats carry counters that
match the tasks it ran. Depends on floret_fixture."""

import json
import os
import re
import subprocess
import time

import floret_fixture as fx


class EventsTest(fx.ClusterTest):
    def setUp(self):
        c = self.start_cluster(())
        c.add_node("e1", ["--slots", "2", "-v"])
        c.add_node("e2", ["--slots", "2", "-E"])
        fx.wait_online(c.broker.port, ["e1", "e2"])

    def start_events(self, *args):
        """A `floret events` writing to a file; returns (process, path)."""
        path = os.path.join(self.cluster.workdir, "events-%d.out" % len(args))
        err = path + ".err"
        with open(path, "wb") as out, open(err, "wb") as errf:
            p = subprocess.Popen([fx.FLORET_BIN, "events", "--broker", self.cluster.url]
                                 + list(args), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=errf)
        fx._live_processes.append(p)
        self.addCleanup(fx.stop_process, p)
        fx.wait_until(lambda: "watching" in fx.read_text(err), 10, what="floret events to start")
        time.sleep(0.5)  # its watch reaches the nodes
        return p, path

    def lines(self, path):
        out = []
        for line in fx.read_text(path).splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                raise AssertionError("not a JSON line: %r" % line)
        return out

    def call(self, *args):
        return self.cluster.floret("call", *args, timeout=30)

    def test_json_stream_of_a_call_and_a_failure(self):
        _, path = self.start_events("--json")
        _, failed_path = self.start_events("--json", "--failed")
        _, task_path = self.start_events("--json", "--task", "fail")
        r = self.call("add", "20", "22")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(r.stdout.strip(), "42")
        r = self.call("fail")
        self.assertNotEqual(r.returncode, 0)

        def seen():
            evs = self.lines(path)
            types = {(e["task"], e["type"]) for e in evs}
            want = {("add", "received"), ("add", "started"), ("add", "succeeded"),
                    ("fail", "failed")}
            return evs if want <= types else None
        evs = fx.wait_until(seen, 15, what="the call's events")
        ok = [e for e in evs if e["task"] == "add" and e["type"] == "succeeded"][0]
        self.assertIn(ok["node"], ("e1", "e2"))
        self.assertIsInstance(ok["runtime_us"], int)
        self.assertEqual(ok["attempt"], 1)
        self.assertRegex(ok["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        started = [e for e in evs if e["task"] == "add" and e["type"] == "started"][0]
        self.assertEqual((started["owner"], started["id"], started["node"]),
                         (ok["owner"], ok["id"], ok["node"]))
        bad = [e for e in evs if e["type"] == "failed"][0]
        self.assertEqual(bad["task"], "fail")
        self.assertEqual(bad["error"]["type"], "TaskError")
        self.assertIn("fail", bad["error"]["message"])
        self.assertFalse(bad["error"]["retryable"])

        fx.wait_until(lambda: self.lines(failed_path), 10, what="the --failed stream")
        time.sleep(0.5)
        self.assertEqual({e["type"] for e in self.lines(failed_path)}, {"failed"})
        fx.wait_until(lambda: len(self.lines(task_path)) >= 3, 10, what="the --task stream")
        self.assertEqual({e["task"] for e in self.lines(task_path)}, {"fail"})

    def test_events_only_when_asked_and_stats_match(self):
        m = fx.Mqtt(self.cluster.broker.port, "events-test-%d" % os.getpid())
        self.addCleanup(m.close)
        m.subscribe(fx.PREFIX + "node/+/events", qos=0)
        m.subscribe(fx.PREFIX + "node/+/stats", qos=0)
        ran = {"e1": 0, "e2": 0}
        for i in range(12):
            r = self.cluster.floret("call", "-v", "add", str(i), "1", timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr + self.logs())
            for name in ran:
                if "by %s" % name in r.stderr:
                    ran[name] += 1
        self.assertEqual(sum(ran.values()), 12, ran)
        got = m.drain(3.0)
        events_from = {t.split("/")[-2] for t, _, _ in got if t.endswith("/events")}
        # e2 runs with -E; e1 was never asked.
        if ran["e2"]:
            self.assertIn("e2", events_from)
        self.assertNotIn("e1", events_from)
        last = {}
        for topic, payload, retained in got + m.drain(2.5):
            if topic.endswith("/stats"):
                last[topic.split("/")[-2]] = fx.parse_envelope(payload)
        for name, n in ran.items():
            self.assertIn(name, last, last)
            st = last[name]
            self.assertEqual(st["kind"], "stats")
            self.assertEqual(st["worker"]["executed"], n, st)
            self.assertEqual(st["worker"]["succeeded"], n, st)
            self.assertEqual(st["worker"]["failed"], 0, st)
            self.assertEqual(st.get("tasks", {}).get("add", {}).get("executed", 0), n, st)
            self.assertEqual(st["slots"], 2)
            self.assertGreater(st["ts"], 1.6e12)
        # -v: one timestamped line per task in e1's log.
        log = self.cluster.nodes["e1"].log_text()
        self.assertRegex(log, r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z floret\[e1\] info: ")
        lines = re.findall(r"(?m)^\S+ floret\[e1\] debug: task add \S+:\d+ attempt 1 succeeded in ", log)
        self.assertEqual(len(lines), ran["e1"], log)
        # Stats of nodes with slots are retained: a late subscriber sees them.
        late = fx.Mqtt(self.cluster.broker.port, "events-late-%d" % os.getpid())
        self.addCleanup(late.close)
        late.subscribe(fx.PREFIX + "node/+/stats", qos=0)
        topic, payload, retained = late.expect(lambda t, p, r: r, 5, "a retained stats")
        self.assertTrue(topic.endswith("/stats"))


if __name__ == "__main__":
    fx.main()
