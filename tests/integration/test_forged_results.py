#!/usr/bin/env python3
"""test_forged_results - a peer with a broker connection and no lease
(a raw paho client) publishes `done`, `release` and `extend` for the task a
real `floret call sleep 2` waits on, under its own name and under the
holder's name with another incarnation; the caller still prints the real
worker's result, and warns that it dropped outcomes not from the holder.
Depends on floret_fixture."""

import json
import subprocess
import threading

import floret_fixture as fx


class Forger:
    """Watches presence and inboxes; answers every lease it sees with
    forged messages to the lease's owner."""

    def __init__(self, port):
        self.m = fx.Mqtt(port, "evil")
        self.sent = 0
        self.lock = threading.Lock()
        self.m.client.on_message = self.on_message
        self.m.subscribe(fx.PREFIX + "node/+")
        self.m.subscribe(fx.PREFIX + "node/+/in")

    def forge(self, owner, sender, inc, ids):
        topic = fx.PREFIX + "node/%s/in" % owner
        results = [{"id": i, "attempt": 1, "ok": True, "value": "FORGED by evil"}
                   for i in ids]
        msgs = [{"v": 1, "kind": "done", "from": sender, "results": results},
                {"v": 1, "kind": "release", "from": sender, "ids": ids},
                {"v": 1, "kind": "extend", "from": sender, "ids": ids}]
        for m in msgs:
            if inc is not None:
                m["inc"] = inc
            self.m.client.publish(topic, json.dumps(m), qos=1)
            with self.lock:
                self.sent += 1

    def on_message(self, client, userdata, msg):
        try:
            env = fx.parse_envelope(bytes(msg.payload))
        except ValueError:
            return
        sender = env.get("from")
        if sender == "evil":
            return
        if env.get("kind") == "presence" and env.get("slots") == 0 and \
                env.get("state") == "online":
            # A client came up: guess its first task ids at once.
            self.forge(sender, "evil", None, list(range(1, 9)))
        elif env.get("kind") == "lease":
            holder = msg.topic[len(fx.PREFIX + "node/"):-len("/in")]
            ids = [t["id"] for t in env.get("tasks", [])]
            self.forge(sender, "evil", None, ids)
            self.forge(sender, "evil", 12345, ids)
            # The holder's name, but not its process.
            hinc = self.presence_inc.get(holder, 0)
            self.forge(sender, holder, hinc + 1, ids)

    presence_inc = {}

    def close(self):
        self.m.close()


class ForgedResultsTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(("w1",))
        seen = fx.wait_online(self.cluster.broker.port, ["w1"])
        self.forger = Forger(self.cluster.broker.port)
        self.addCleanup(self.forger.close)
        Forger.presence_inc = {n: p.get("inc", 0) for n, p in seen.items()}

    def test_forged_outcomes_do_not_win(self):
        r = self.cluster.floret("call", "sleep", "2", "--timeout", "30", timeout=60)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out + self.logs())
        self.assertNotIn("FORGED", r.stdout, out + self.logs())
        self.assertEqual(r.stdout.strip(), "2", out + self.logs())
        self.assertGreater(self.forger.sent, 6, "the forger never saw the lease")
        self.assertIn("not from the worker holding the lease", r.stderr, out)


if __name__ == "__main__":
    fx.main()
