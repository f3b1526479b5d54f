#!/usr/bin/env python3
"""test_garbage - hostile input on every topic a node listens to: random
bytes, truncated JSON, wrong types, a payload over --max-message, deep
nesting, an attachment length that lies, unknown and misplaced kinds. For
each, the node logs exactly one line saying why, replies with an error to
node/<sender>/in when the sender could be read, and afterwards still serves
`floret call add 1 2`. The reply's type says what was wrong (TooBig,
UnknownKind, BadMessage) and its `re` echoes the message's `mid`.
Depends on floret_fixture."""

import json
import os
import random
import re
import time

import floret_fixture as fx

P = fx.PREFIX
MAX_MESSAGE = 4096
LOG_MARK = "dropped message"


def env(**fields):
    msg = {"v": 1, "from": "g"}
    msg.update(fields)
    return json.dumps(msg).encode()


LEASE_TASK = {"id": 1, "name": "add", "args": [1, 2], "attempt": 1}

# (label, topic suffix, payload, words the log line must contain,
#  accepted reply error types or None when the sender cannot be known)
CASES = [
    ("random bytes on the inbox", "node/w1/in",
     bytes(random.Random(1).randrange(256) for _ in range(300)), [], None),
    ("random bytes on work", "work",
     bytes(random.Random(2).randrange(256) for _ in range(300)), ["work"], None),
    ("random bytes on a presence topic", "node/evil",
     bytes(random.Random(3).randrange(256) for _ in range(64)), ["node/evil"], None),
    ("empty payload on the inbox", "node/w1/in", b"", [], None),
    ("truncated JSON", "node/w1/in",
     b'{"v":1,"kind":"fetch","from":"g","inc":1,"fid":1,"cre', [], None),
    ("not an object", "node/w1/in", b'[1,2,3]', [], None),
    ("wrong type: inc is a string", "node/w1/in",
     env(kind="fetch", inc="one", fid=1, credit=4), ["inc"], ("BadMessage",)),
    ("wrong type, with a mid to echo", "node/w1/in",
     env(kind="fetch", mid=42, inc=1, fid="one", credit=4), ["fid"], ("BadMessage",)),
    ("wrong type: credit over the limit", "node/w1/in",
     env(kind="fetch", inc=1, fid=1, credit=999999), ["credit"], ("BadMessage",)),
    ("wrong type: args not an array", "node/w1/in",
     env(kind="lease", inc=1, fid=1, ttl_ms=30000,
         tasks=[dict(LEASE_TASK, args="not an array")]), ["args"], ("BadMessage",)),
    ("wrong type: v is a string", "node/w1/in",
     env(kind="fetch", inc=1, fid=1, credit=1, v="1"), ["v:"], ("BadMessage",)),
    ("a sender id that is not an id", "node/w1/in",
     json.dumps({"v": 1, "kind": "fetch", "from": "bad id!", "inc": 1, "fid": 1,
                 "credit": 1}).encode(), [], None),
    ("over the size limit", "node/w1/in",
     env(kind="fetch", mid=43, inc=1, fid=1, credit=1, pad="x" * (MAX_MESSAGE + 100)),
     [str(MAX_MESSAGE)], ("TooBig",)),
    ("an error over the size limit (never answered)", "node/w1/in",
     env(kind="error", error={"type": "X", "message": "x" * (MAX_MESSAGE + 100)}),
     [str(MAX_MESSAGE)], None),
    ("deep nesting", "node/w1/in",
     b'{"v":1,"kind":"fetch","from":"g","inc":1,"fid":1,"credit":1,"x":' +
     b"[" * 200 + b"]" * 200 + b"}", [], None),
    ("attachment length that lies", "node/w1/in",
     env(kind="lease", inc=1, fid=1, ttl_ms=30000, tasks=[LEASE_TASK], bin=100) +
     b"\x00abc", ["bin"], ("BadMessage",)),
    ("attachment range outside the attachment", "node/w1/in",
     env(kind="lease", inc=1, fid=1, ttl_ms=30000,
         tasks=[dict(LEASE_TASK, att=[2, 50])], bin=4) + b"\x00abcd",
     ["att"], ("BadMessage",)),
    ("unknown kind", "node/w1/in", env(kind="bogus", mid=44), ["bogus"],
     ("UnknownKind",)),
    ("a lease on the work topic", "work",
     env(kind="lease", inc=1, fid=1, ttl_ms=30000, tasks=[LEASE_TASK]), ["work"],
     ("BadMessage",)),
]


class GarbageTest(fx.ClusterTest):
    def test_garbage_on_every_topic(self):
        c = self.start_cluster(("w1",), ["--max-message", str(MAX_MESSAGE)])
        node = c.nodes["w1"]
        g = fx.Mqtt(c.broker.port, "g")
        self.addCleanup(g.close)
        g.subscribe(P + "node/g/in")

        def dropped_lines():
            return [l for l in node.log_text().splitlines() if LOG_MARK in l]

        for label, suffix, payload, words, reply_types in CASES:
            with self.subTest(label):
                before = len(dropped_lines())
                g.publish(P + suffix, payload)
                fx.wait_until(lambda: len(dropped_lines()) > before, 10,
                              what="a log line for " + label)
                line = dropped_lines()[before]
                for w in words:
                    self.assertIn(w, line, label)
                if reply_types:
                    _, rp, _ = g.expect(lambda t, p, r: True, 10,
                                        "an error reply for " + label)
                    reply = fx.parse_envelope(rp)
                    self.assertEqual(reply["kind"], "error", reply)
                    self.assertEqual(reply["from"], "w1", reply)
                    self.assertIn(reply["error"]["type"], reply_types, reply)
                    for w in words:
                        self.assertIn(w, reply["error"]["message"], reply)
                    mid = re.search(rb'"mid": (\d+)', payload[:200])
                    if mid:
                        self.assertEqual(reply.get("re"), int(mid.group(1)), reply)
                    else:
                        self.assertNotIn("re", reply)
                # Exactly one line for this message, and no reply when the
                # sender could not be known.
                extra = g.drain(0.3)
                self.assertEqual(extra, [], label)
                self.assertEqual(len(dropped_lines()), before + 1,
                                 "\n".join(dropped_lines()[before:]))
                self.assertTrue(node.alive(), label + self.logs())

        # Also the control topic, which a node does not read: it must not care.
        g.publish(P + "ctl", os.urandom(200))
        time.sleep(0.2)
        self.assertTrue(node.alive(), self.logs())

        r = c.floret("call", "add", "1", "2", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "3"), r.stderr + self.logs())


if __name__ == "__main__":
    fx.main()
