#!/usr/bin/env python3
"""test_protocol_replay - plays the exchange of docs/protocol.md section 9
with a hand-written MQTT client (paho, no floret code) against a real node:
announce work, receive the node's fetch, lease it `add 4 4`, receive the
done with {"ok":true,"value":8}. Also that a node's MQTT client id is its
node id (protocol.md section 1). Depends on floret_fixture."""

import json

import floret_fixture as fx

P = fx.PREFIX


class ProtocolReplayTest(fx.ClusterTest):
    def test_section_9_exchange(self):
        c = self.start_cluster(("w1",))
        me = fx.Mqtt(c.broker.port, "me")
        self.addCleanup(me.close)
        me.subscribe(P + "node/me/in")

        me.publish(P + "work", json.dumps(
            {"v": 1, "kind": "work", "from": "me", "pending": 1}))

        def is_kind(kind):
            return lambda t, p, r: fx.parse_envelope(p).get("kind") == kind

        _, payload, _ = me.expect(is_kind("fetch"), 10, "a fetch from w1")
        fetch = fx.parse_envelope(payload)
        self.assertEqual(fetch["v"], 1)
        self.assertEqual(fetch["from"], "w1")
        self.assertIsInstance(fetch["inc"], int)
        self.assertIsInstance(fetch["fid"], int)
        self.assertGreaterEqual(fetch["credit"], 1)

        me.publish(P + "node/w1/in", json.dumps(
            {"v": 1, "kind": "lease", "from": "me", "inc": 1, "fid": fetch["fid"],
             "ttl_ms": 30000,
             "tasks": [{"id": 1, "name": "add", "args": [4, 4], "attempt": 1}]}))

        _, payload, _ = me.expect(is_kind("done"), 10, "a done from w1" + self.logs())
        done = fx.parse_envelope(payload)
        self.assertEqual(done["v"], 1)
        self.assertEqual(done["from"], "w1")
        self.assertEqual(len(done["results"]), 1)
        res = done["results"][0]
        self.assertEqual(res["id"], 1)
        self.assertEqual(res["attempt"], 1)
        self.assertEqual({"ok": res["ok"], "value": res["value"]}, {"ok": True, "value": 8})

    def test_client_id_is_the_node_id(self):
        c = self.start_cluster(("w1",))
        log = fx.read_text(c.broker.log)
        self.assertRegex(log, r"New client connected from \S+ as w1 ", log)


if __name__ == "__main__":
    fx.main()
