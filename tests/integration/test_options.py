#!/usr/bin/env python3
"""test_options - the task options eta, soft_time_limit, priority and
rate_limit (docs/canvas.md, "Options") on real nodes over a real broker:
a one-slot worker runs a backlog in priority order (higher first, FIFO
within one); rate_limit "5/s" spaces ten starts on a worker with four
slots at least 200 ms apart (start times read from the worker's JSON log:
end time minus duration), per worker when two share the work; a Lua task
catches SoftTimeLimitExceeded with pcall and returns a value, an uncaught
one fails the task with that type, also in the process pool's child; the
native sleep sees the flag on a thread and in a child process; an eta in
the past runs now and one 2 s ahead runs no sooner, from `floret call
--eta` and from `eta=` in the canvas language.
Depends on floret_fixture and deploy_fixture."""

import datetime
import json
import time

import deploy_fixture as dfx
import floret_fixture as fx

SOFT = """
local M = {}
function M.careful(n)
  local ok, e = pcall(function() local x = 0 while true do x = x + 1 end end)
  if not ok and e == floret.SoftTimeLimitExceeded then return "cleaned up after " .. n end
  error(e)
end
function M.careless() local x = 0 while true do x = x + 1 end end
return M
"""


# The least gap between two starts at 5/s (200 ms) that the log's times
# show (see test_rate_limit_per_worker).
MIN_GAP = 0.15


def task_lines(node):
    """The task outcome lines of a node started with -v --log-format json,
    each with its start time (s since 1970) added."""
    out = []
    for line in node.log_text().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if "task" not in o:
            continue
        end = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        o["start"] = end - o["duration_ms"] / 1000.0
        o["id"] = int(o["task_id"].rsplit(":", 1)[1])
        out.append(o)
    return out


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class OptionsTest(dfx.DeployTest):
    def node(self, name, *extra):
        c = self.cluster
        n = c.add_node(name, ["-v", "--log-format", "json"] + list(extra))
        fx.wait_online(c.broker.port, [name])
        return n

    def test_priority_order_on_a_one_slot_worker(self):
        self.start_cluster(())
        w = self.node("p1", "--slots", "1")
        prios = [0, 5, 9, 5, 0, 9, 3, 7]
        # Tasks of 50 ms, so that the worker runs them one at a time as
        # leased (a task of microseconds may run on the node's loop beside
        # its slot: docs/architecture.md, "Fast path"). The group's ids
        # follow its members.
        members = ", ".join("sleep(0.05).set(priority=%d)" % p for p in prios)
        # A longer one at the top priority first, so that the rest is a
        # backlog at the owner while the only slot is busy.
        r = self.cluster.floret("run", "[sleep(0.5).set(priority=9), %s]" % members,
                                "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(json.loads(r.stdout), [0.5] + [0.05] * len(prios))
        runs = [o for o in task_lines(w) if o["task"] == "sleep"]
        self.assertEqual(len(runs), len(prios) + 1, self.logs())
        first = min(o["id"] for o in runs)
        ran = [o["id"] - first - 1 for o in sorted(runs, key=lambda o: o["start"])]
        self.assertEqual(ran[0], -1, "the long one ran first")
        ran = ran[1:]
        want = sorted(range(len(prios)), key=lambda i: (-prios[i], i))
        self.assertEqual(ran, want, self.logs())
        # Out of range: a clear error naming the option, before anything runs.
        r = self.cluster.floret("call", "add", "1", "1", "--priority", "10")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--priority '10': expected a number from 0 to 9", r.stderr)
        r = self.cluster.floret("run", "add(1,1).set(priority=12)")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("options.priority must be an integer from 0 to 9", r.stderr)

    def test_rate_limit_per_worker(self):
        self.start_cluster(())
        w = self.node("r1", "--slots", "4")
        items = json.dumps([[i, i] for i in range(10)])
        t0 = time.monotonic()
        r = self.cluster.floret("run", "add.starmap(%s).set(rate_limit=\"5/s\")" % items,
                                "--timeout", "30")
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(json.loads(r.stdout), [2 * i for i in range(10)])
        self.assertGreaterEqual(took, 1.75, "10 tasks at 5/s took %.2f s" % took)
        starts = sorted(o["start"] for o in task_lines(w) if o["task"] == "add")
        self.assertEqual(len(starts), 10, self.logs())
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        # A start is read as the log line's time (when the node's loop took
        # the outcome) less the run's duration: a few ms off either way on
        # a busy machine. Without the limit all ten start within ms.
        self.assertGreaterEqual(min(gaps), MIN_GAP, gaps)
        self.assertGreaterEqual(starts[-1] - starts[0], 1.75, starts)
        # Two workers: each keeps the rate (Celery's per-worker limit).
        w2 = self.node("r2", "--slots", "4")
        r = self.cluster.floret("run", "mul.starmap(%s).set(rate_limit=\"5/s\")" % items,
                                "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        total = 0
        for node in (w, w2):
            s = sorted(o["start"] for o in task_lines(node) if o["task"] == "mul")
            total += len(s)
            gaps = [b - a for a, b in zip(s, s[1:])]
            self.assertTrue(not gaps or min(gaps) >= MIN_GAP, gaps)
        self.assertEqual(total, 10)
        r = self.cluster.floret("call", "add", "1", "1", "--rate-limit", "10/d")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--rate-limit '10/d': expected a rate such as 10/s, 100/m or 5/h",
                      r.stderr)

    def test_soft_time_limit_lua_and_native(self):
        # s1 runs Lua tasks in child processes (the auto pool), with an
        # instruction budget that outlasts the limits.
        c = self.start_trusting(("s1",), ["--lua-steps", "1000000000000"])
        v = self.version_of(self.deploy(self.write_module("soft", SOFT), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["s1"], {"soft@" + v})
        t0 = time.monotonic()
        r = self.call("soft.careful", "3", "--soft-time-limit", "0.5", "--time-limit", "5")
        took = time.monotonic() - t0
        self.assertEqual((r.returncode, r.stdout.strip()), (0, '"cleaned up after 3"'),
                         r.stderr + self.logs())
        self.assertLess(took, 4, "the soft limit was not seen before the hard one")
        r = self.call("soft.careless", "--soft-time-limit", "0.5", "--time-limit", "5")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("error: SoftTimeLimitExceeded: lua task soft.careless: "
                      "SoftTimeLimitExceeded: the task ran past its soft time limit", r.stderr)
        # Native: sleep on a thread (s1, the auto pool) and in a child
        # process (s3, the process pool) notices its soft limit.
        for node, pool in (("s1", "auto"), ("s3", "process")):
            if node == "s3":
                self.cluster.nodes["s1"].stop()
                self.add_trusting("s3", ["--pool", pool])
                fx.wait_online(c.broker.port, ["s3"])
            t0 = time.monotonic()
            r = self.call("sleep", "9", "--soft-time-limit", "0.5", "--time-limit", "8")
            took = time.monotonic() - t0
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("error: SoftTimeLimitExceeded: sleep(9) stopped at its soft time "
                          "limit", r.stderr + self.logs())
            self.assertLess(took, 5, pool)
            self.assertGreaterEqual(took, 0.45, pool)
        r = self.call("sleep", "1", "--soft-time-limit", "2", "--time-limit", "1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--soft-time-limit (2 s) must be less than --time-limit (1 s)", r.stderr)

    def test_eta(self):
        self.start_cluster(())
        self.node("e1", "--slots", "2")
        t0 = time.time()
        r = self.cluster.floret("call", "add", "1", "2", "--eta", iso(t0 - 3600))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "3"), r.stderr)
        self.assertLess(time.time() - t0, 1.5, "an eta in the past waited")
        for how in ("iso", "unix", "canvas"):
            t0 = time.time()
            eta = t0 + 2.0
            if how == "iso":
                r = self.cluster.floret("call", "add", "2", "2", "--eta", iso(eta))
            elif how == "unix":
                r = self.cluster.floret("call", "add", "2", "2", "--eta", "%.3f" % eta)
            else:
                r = self.cluster.floret("run", "add(2,2).set(eta=\"%s\") | mul(10)" % iso(eta))
            took = time.time() - t0
            want = "40" if how == "canvas" else "4"
            self.assertEqual((r.returncode, r.stdout.strip()), (0, want), r.stderr)
            self.assertGreaterEqual(took, 1.99, how)
            self.assertLess(took, 5, how)
        r = self.cluster.floret("call", "add", "1", "1", "--eta", "tomorrow")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--eta 'tomorrow': expected a time in UTC", r.stderr)


if __name__ == "__main__":
    fx.main()
