#!/usr/bin/env python3
"""test_python_examples - examples/python/worker.py and client.py (written
from docs/protocol.md alone) in one cluster with real C nodes that run
different tasks: c1 has the Lua module `m` (m.triple) deployed, c2 refuses
it (it trusts no key), and two Python workers run py.* tasks. Chains that
alternate Python and C tasks give the right answer every time, whoever
owns them (the Python client, or `floret run`, whose owner leases each
step only to a node that runs it); the Python client's tasks
run on C workers; and a Python worker killed with SIGKILL in the middle of
its tasks loses nothing: its leases run again on the other Python worker.
Depends on deploy_fixture, floret_fixture and Debian's /usr/bin/python3
with python3-paho-mqtt."""

import json
import os
import signal
import subprocess
import sys
import time

import deploy_fixture as dfx
import floret_fixture as fx

P = fx.PREFIX
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                        "examples", "python")
MODULE = """
local M = {}
function M.triple(x) return x * 3 end
return M
"""
# 3 -> 6 -> 18 -> 36 -> 360, Python and C steps in turn.
CHAIN = ["add", "[1,2]", "py.double", "[]", "m.triple", "[]", "py.double", "[]",
         "mul", "[10]"]
RUNS = 20


class PythonExamplesTest(dfx.DeployTest):
    def setUp(self):
        c = self.start_trusting(("c1",))
        c.add_node("c2", ["--slots", "2"])
        # c1 trusts the key, c2 trusts none: the deploy is partly accepted.
        r = self.deploy(self.write_module("m", MODULE), "--key", self.key, ok=False)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertIn("c1: accepted", r.stdout)
        self.assertIn("c2: refused: ", r.stdout)
        self.modules("c1")
        self.workers = {}
        for name in ("pyw1", "pyw2"):
            self.start_worker(name)
        fx.wait_online(c.broker.port, ["c1", "c2", "pyw1", "pyw2"])
        self.watch = fx.Mqtt(c.broker.port, "watch")
        self.addCleanup(self.watch.close)
        self.watch.subscribe(P + "node/+/in")

    def modules(self, node):
        fx.wait_until(lambda: dfx.presences(self.cluster.broker.port)
                      .get(node, {}).get("modules"), 15, what="module m on " + node)
        return dfx.presences(self.cluster.broker.port)[node]["modules"]

    def start_worker(self, name):
        log = os.path.join(self.cluster.workdir, "py-%s.log" % name)
        p = fx.spawn([sys.executable, os.path.join(EXAMPLES, "worker.py"),
                      "--broker", self.cluster.url, "--name", name], log)
        self.workers[name] = (p, log)
        self.addCleanup(fx.stop_process, p)

    def logs(self, limit=12000):
        parts = [super().logs(limit)]
        for name, (_, log) in self.workers.items():
            parts.append("--- python worker %s\n%s" % (name, fx.read_text(log)[-3000:]))
        return "\n".join(parts)

    def client(self, *args, timeout=60):
        return subprocess.run(
            [sys.executable, os.path.join(EXAMPLES, "client.py"),
             "--broker", self.cluster.url, "--timeout", "30"] + list(args),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    def seen(self, kind):
        """(topic's node, message) of every `kind` the watcher saw so far."""
        out = []
        for topic, payload, _ in self.watch.drain(0.2):
            m = fx.parse_envelope(payload)
            if m.get("kind") == kind:
                out.append((topic[len(P + "node/"):-len("/in")], m))
        return out

    def test_python_client_chain_alternates_python_and_c(self):
        for run in range(RUNS):
            r = self.client("--chain", *CHAIN)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "360"),
                             "run %d: %s%s" % (run, r.stderr, self.logs()))
        senders = {m["from"] for _, m in self.seen("done")}
        self.assertIn("c1", senders)  # m.triple runs only there
        self.assertTrue(senders & {"pyw1", "pyw2"}, senders)

    def test_python_client_on_c_workers(self):
        r = self.client("add", "[4,4]", "mul", "[6,7]", "xsum", "[[1,2,3]]",
                        "m.triple", "[5]", "echo", '["x"]', "py.upper", '["hi"]',
                        "fail", '["boom"]', "nope", "[]")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[:-1],
                         ["8", "42", "6", "15", '"x"', '"HI"', "TaskError: boom"],
                         r.stderr + self.logs())
        self.assertRegex(lines[-1], r"^UnknownTask: no online node runs 'nope' \(online: "
                         r"(c1|c2|pyw1|pyw2)(, (c1|c2|pyw1|pyw2)){3}\)$")
        self.assertEqual(r.returncode, 1)  # one task failed, as asked
        for _, m in self.seen("done"):
            for res in m["results"]:
                if res.get("ok") is False:
                    self.assertEqual(res["error"]["type"], "TaskError", m)

    def test_python_worker_hands_back_and_answers_ping(self):
        me = fx.Mqtt(self.cluster.broker.port, "me")
        self.addCleanup(me.close)
        me.subscribe(P + "node/me/in")
        for _ in range(2):  # not remembered as seen: the same lease is answered again
            me.publish(P + "node/pyw1/in", json.dumps(
                {"v": 1, "kind": "lease", "from": "me", "inc": 3, "fid": 1, "ttl_ms": 30000,
                 "tasks": [{"id": 7, "name": "add", "args": [1, 2], "attempt": 1}]}))
            _, payload, _ = me.expect(lambda t, p, r: fx.parse_envelope(p).get("kind") == "done",
                                      10, "a hand-back" + self.logs())
            res = fx.parse_envelope(payload)["results"]
            self.assertEqual([(r["id"], r["attempt"], r["ok"], r["error"]["type"],
                               r["error"]["retryable"]) for r in res],
                             [(7, 1, False, "NotRunHere", True)], res)
        me.publish(P + "node/pyw1/in", json.dumps({"v": 1, "kind": "ping", "from": "me",
                                                   "inc": 3, "mid": 5}))
        _, payload, _ = me.expect(lambda t, p, r: fx.parse_envelope(p).get("kind") == "pong",
                                  10, "a pong" + self.logs())
        self.assertEqual(fx.parse_envelope(payload).get("re"), 5)

    def test_python_worker_killed_mid_task(self):
        n = 6
        client = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, "client.py"), "--broker",
             self.cluster.url, "--timeout", "60"] + ["py.sleep", "[1.5]"] * n,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        self.addCleanup(fx.stop_process, client)
        # Wait until pyw1 holds leases, let it start them, then kill it.
        _, payload, _ = self.watch.expect(
            lambda t, p, r: t == P + "node/pyw1/in" and
            fx.parse_envelope(p).get("kind") == "lease", 15, "a lease to pyw1")
        killed = {t["id"] for t in fx.parse_envelope(payload)["tasks"]}
        time.sleep(0.3)
        self.workers["pyw1"][0].send_signal(signal.SIGKILL)
        out, err = client.communicate(timeout=90)
        self.assertEqual((client.returncode, out.splitlines()), (0, ["1.5"] * n),
                         err + self.logs())
        dones = [m for _, m in self.seen("done")]
        rerun = {r["id"] for m in dones if m["from"] == "pyw2" for r in m["results"]}
        self.assertTrue(killed <= rerun, "pyw1's %s, pyw2 ran %s" % (killed, rerun))
        self.assertFalse([m for m in dones if m["from"] == "pyw1" and
                          {r["id"] for r in m["results"]} & killed])


    def test_c_owner_chain_alternates_python_and_c(self):
        expr = "add(1,2) | py.double() | m.triple() | py.double() | mul(10)"
        for run in range(RUNS):
            r = self.cluster.floret("run", expr, "--timeout", "30")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "360"),
                             "run %d: %s%s" % (run, r.stderr, self.logs()))

    def test_python_worker_killed_mid_task_c_owner(self):
        n = 6
        run = subprocess.Popen(
            [fx.FLORET_BIN, "run", "[%s]" % ", ".join(["py.sleep(1.5)"] * n),
             "--timeout", "60"], env=self.cluster.env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(fx.stop_process, run)
        _, payload, _ = self.watch.expect(
            lambda t, p, r: t == P + "node/pyw1/in" and
            fx.parse_envelope(p).get("kind") == "lease", 15, "a lease to pyw1")
        killed = {t["id"] for t in fx.parse_envelope(payload)["tasks"]}
        time.sleep(0.3)
        self.workers["pyw1"][0].send_signal(signal.SIGKILL)
        out, err = run.communicate(timeout=90)
        self.assertEqual((run.returncode, json.loads(out or "null")), (0, [1.5] * n),
                         err + self.logs())
        rerun = {r["id"] for _, m in self.seen("done") if m["from"] == "pyw2"
                 for r in m["results"]}
        self.assertTrue(killed <= rerun, "pyw1's %s, pyw2 ran %s" % (killed, rerun))


if __name__ == "__main__":
    fx.main()
