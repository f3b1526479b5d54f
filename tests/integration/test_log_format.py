#!/usr/bin/env python3
"""test_log_format - `--log-format json` (docs/watching.md, "Logs") with a
real broker and a real node: every line the node writes from start to stop
parses as one JSON object with time (ISO 8601 UTC, ms), level, node and
message; each task's line also carries task, task_id (OWNER:ID), attempt,
outcome and duration_ms, and a failure its error_type and error; a
client's lines are JSON too; the default stays text; a bad value is a
usage error naming the option. Depends on floret_fixture."""

import json
import os
import re
import subprocess

import floret_fixture as fx

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"error", "warn", "info", "debug"}
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z floret\[[^\]]+\] "
                       r"(error|warn|info|debug): ")


def parse_lines(text):
    """Every line as a JSON object; any other line fails the test."""
    objs = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            o = json.loads(line)
        except ValueError:
            raise AssertionError("line %d is not JSON: %r" % (n, line))
        if not isinstance(o, dict):
            raise AssertionError("line %d is not an object: %r" % (n, line))
        objs.append(o)
    return objs


class LogFormatTest(fx.ClusterTest):
    def check_common(self, o, node):
        self.assertTrue(TIME.match(o.get("time", "")), o)
        self.assertIn(o.get("level"), LEVELS, o)
        self.assertEqual(o.get("node"), node, o)
        self.assertIsInstance(o.get("message"), str, o)
        self.assertTrue(o["message"], o)

    def test_node_log_is_json_lines(self):
        c = self.start_cluster(())
        node = c.add_node("j1", ["--slots", "2", "-v", "--log-format", "json"])
        fx.wait_online(c.broker.port, ["j1"])
        r = c.floret("call", "add", "20", "22")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "42"), r.stderr + self.logs())
        r = c.floret("call", "fail")
        self.assertEqual(r.returncode, 1, r.stderr)
        r = c.floret("call", "echo", '"quote \\" back\\\\slash \\u0001 tab\\t"')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = c.floret("run", "sleep.map([0.1, 0.1])")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(node.stop(), 0, self.logs())

        objs = parse_lines(node.log_text())
        for o in objs:
            self.check_common(o, "j1")
        msgs = [o["message"] for o in objs]
        self.assertTrue(any(m.startswith("node j1 online") for m in msgs), msgs)
        self.assertTrue(any("stopping" in m for m in msgs), msgs)
        tasks = [o for o in objs if "task" in o]
        by_name = {}
        for o in tasks:
            self.assertEqual(o["level"], "debug", o)
            self.assertRegex(o["task_id"], r"^[A-Za-z0-9_.-]+:\d+$")
            self.assertIsInstance(o["attempt"], int)
            self.assertGreaterEqual(o["attempt"], 1)
            self.assertIsInstance(o["duration_ms"], (int, float))
            self.assertGreaterEqual(o["duration_ms"], 0)
            self.assertIn(o["outcome"], ("succeeded", "failed"))
            self.assertTrue(o["message"].startswith("task %s %s " % (o["task"], o["task_id"])), o)
            by_name.setdefault(o["task"], []).append(o)
        self.assertEqual(sorted(by_name), ["add", "echo", "fail", "sleep"], tasks)
        self.assertEqual([o["outcome"] for o in by_name["add"]], ["succeeded"])
        fail = by_name["fail"][0]
        self.assertEqual((fail["outcome"], fail["error_type"]), ("failed", "TaskError"), fail)
        self.assertIn("fail() was called", fail["error"])
        self.assertNotIn("error_type", by_name["add"][0])
        self.assertEqual(len(by_name["sleep"]), 2)
        self.assertTrue(all(o["duration_ms"] >= 90 for o in by_name["sleep"]), by_name["sleep"])

    def test_client_lines_and_env(self):
        c = self.start_cluster(("t1",))
        env = c.env()
        env["FLORET_LOG_FORMAT"] = "json"
        r = subprocess.run([fx.FLORET_BIN, "call", "fail"], env=env, capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        objs = parse_lines(r.stderr)
        self.assertTrue(objs, r.stderr)
        err = [o for o in objs if o["level"] == "error"]
        self.assertEqual(len(err), 1, objs)
        self.assertIn("TaskError: fail() was called", err[0]["message"])
        self.assertTrue(TIME.match(err[0]["time"]), err)
        self.assertTrue(err[0]["node"], err)
        # Unreachable broker: still one JSON object per line.
        r = subprocess.run([fx.FLORET_BIN, "call", "--log-format", "json", "--broker",
                            "mqtt://127.0.0.1:%d" % fx.free_port(), "add", "1", "1"],
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 3, r.stderr)
        objs = parse_lines(r.stderr)
        self.assertTrue(any("cannot connect to broker" in o["message"] for o in objs), objs)

    def test_text_default_and_bad_value(self):
        c = self.start_cluster(())
        node = c.add_node("x1", ["--slots", "1", "-v"])
        fx.wait_online(c.broker.port, ["x1"])
        r = c.floret("call", "add", "1", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(node.stop(), 0)
        lines = node.log_text().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, TEXT_LINE)
        self.assertTrue(any(re.search(r"task add \S+:\d+ attempt 1 succeeded in", l)
                            for l in lines), lines)
        r = c.floret("node", "--log-format", "xml")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--log-format 'xml': expected text or json", r.stderr)
        env = c.env()
        env["FLORET_LOG_FORMAT"] = "yaml"
        r = subprocess.run([fx.FLORET_BIN, "call", "add", "1", "1"], env=env,
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("FLORET_LOG_FORMAT 'yaml': expected text or json", r.stderr)


if __name__ == "__main__":
    fx.main()
