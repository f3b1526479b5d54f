#!/usr/bin/env python3
"""test_deploy_answers - `floret deploy`, `undeploy` and `shutdown` wait for
each online node's answer (docs/protocol.md 3.9, `answer`) and report per
node: nodes that refuse (they trust another key) make the command exit 1
and are named; a mix of trusting and refusing nodes gives one line per
node and exit 5; a key file that does not exist fails before anything is
printed on stdout or sent; a node that does not answer (an older floret,
played here by a plain MQTT client with a presence) is reported as no
answer. Depends on floret_fixture and deploy_fixture (real broker, real
nodes)."""

import json
import os
import re
import time

import deploy_fixture as dfx
import floret_fixture as fx

MOD = "return {f = function() return 7 end, g = function() return 8 end}\n"


class AnswersTest(dfx.DeployTest):
    def setUp(self):
        self.c = self.start_cluster((), ())
        self.key, self.pub = self.keygen("ops")
        self.other_key, self.other_pub = self.keygen("other")

    def node(self, name, pub):
        self.cluster.add_node(name, ["--slots", "1", "--trust", pub])

    def lines(self, r):
        """{node: what it answered} from the per-node lines on stdout."""
        return {m.group(1): m.group(2) for m in
                (re.match(r"^([A-Za-z0-9_.-]+): (.*)$", l) for l in r.stdout.splitlines())
                if m}

    def test_all_refuse_exits_1_and_names_them(self):
        self.node("w1", self.other_pub)
        self.node("w2", self.other_pub)
        fx.wait_online(self.c.broker.port, ["w1", "w2"])
        path = self.write_module("m", MOD)
        r = self.deploy(path, "--key", self.key, ok=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        got = self.lines(r)
        for n in ("w1", "w2"):
            self.assertIn(n, got, r.stdout)
            self.assertTrue(got[n].startswith("refused: "), got[n])
            self.assertIn("which this node does not trust", got[n])
            self.assertIn(n + " (refused)", r.stderr)
        self.assertIn("no node accepted the deploy", r.stderr)
        # The same for undeploy and for a shutdown, which stops nobody.
        r = self.cluster.floret("undeploy", "m", "--key", self.key)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(set(self.lines(r)), {"w1", "w2"}, r.stdout)
        r = self.cluster.floret("shutdown", "all", "--key", self.key)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("w1: refused: ", r.stdout)
        self.assertTrue(self.c.nodes["w1"].alive() and self.c.nodes["w2"].alive())

    def test_mix_gives_one_line_per_node(self):
        self.node("w1", self.pub)
        self.node("w2", self.other_pub)
        self.node("w3", self.pub)
        fx.wait_online(self.c.broker.port, ["w1", "w2", "w3"])
        path = self.write_module("m", MOD)
        r = self.deploy(path, "--key", self.key, ok=False)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        got = self.lines(r)
        self.assertEqual(got["w1"], "accepted", r.stdout)
        self.assertEqual(got["w3"], "accepted", r.stdout)
        self.assertTrue(got["w2"].startswith("refused: it is signed by key"), got["w2"])
        self.assertIn("2 of 3 nodes accepted the deploy", r.stderr)
        self.assertIn("module m, tasks: m.f, m.g", r.stdout)
        v = self.version_of(r)
        dfx.wait_modules(self.c.broker.port, ["w1", "w3"], {"m@" + v})
        # A shutdown of one node answers for that node only, and stops it.
        r = self.cluster.floret("shutdown", "w3", "--key", self.key)
        self.assertEqual((r.returncode, self.lines(r)), (0, {"w3": "accepted"}),
                         r.stdout + r.stderr)
        fx.wait_until(lambda: not self.c.nodes["w3"].alive(), 15, what="w3 to stop")
        r = self.cluster.floret("shutdown", "w3", "--key", self.key, "--timeout", "1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("w3: not online", r.stdout)

    def test_missing_key_prints_nothing_on_stdout(self):
        self.node("w1", self.pub)
        fx.wait_online(self.c.broker.port, ["w1"])
        watch = fx.Mqtt(self.c.broker.port, "ctl-watch")
        self.addCleanup(watch.close)
        watch.subscribe(fx.PREFIX + "ctl/#")
        path = self.write_module("m", MOD)
        missing = os.path.join(self.cluster.workdir, "nope.key")
        for cmd in (("deploy", path), ("undeploy", "m"), ("shutdown", "all")):
            r = self.cluster.floret(*cmd, "--key", missing)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertEqual(r.stdout, "", "%s printed on stdout" % (cmd,))
            self.assertIn("--key", r.stderr)
            self.assertIn("nope.key", r.stderr)
        self.assertEqual(watch.drain(0.5), [], "a control message was sent")
        self.assertTrue(self.c.nodes["w1"].alive())

    def test_silent_node_is_no_answer(self):
        self.node("w1", self.pub)
        fx.wait_online(self.c.broker.port, ["w1"])
        old = fx.Mqtt(self.c.broker.port, "old1")
        self.addCleanup(old.close)
        presence = {"v": 1, "kind": "presence", "from": "old1", "inc": 1,
                    "state": "online", "slots": 1, "load": 0, "tasks": ["add"]}
        old.publish(fx.PREFIX + "node/old1", json.dumps(presence).encode(), retain=True)
        self.addCleanup(lambda: old.publish(fx.PREFIX + "node/old1", b"", retain=True))
        fx.wait_online(self.c.broker.port, ["old1"])
        path = self.write_module("m", MOD)
        t0 = time.monotonic()
        r = self.deploy(path, "--key", self.key, "--timeout", "2", ok=False)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        got = self.lines(r)
        self.assertEqual(got["w1"], "accepted", r.stdout)
        self.assertIn("no answer", got.get("old1", ""), r.stdout)
        self.assertIn("old1 (no answer)", r.stderr)
        self.assertGreater(time.monotonic() - t0, 1.5)


if __name__ == "__main__":
    fx.main()
