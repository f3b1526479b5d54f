#!/usr/bin/env python3
"""test_protocol_doc - the examples of docs/protocol.md hold, played as a
client written from that document would: every line of the built-in task
examples (section 4.1) is leased to a real node in a raw `lease`, and its
`done` entry compared with the line; every line of the canvas JSON
examples (section 3.8) is handed to the node as keeper in a `submit`, and
the `result` its `query` gets compared with the line. Depends on
floret_fixture and docs/protocol.md."""

import json
import os
import re

import floret_fixture as fx

P = fx.PREFIX
DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "docs", "protocol.md")


def examples(heading):
    """The (left, right) of each `left  →  right` line of the first text
    block after the heading."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    start = text.index(heading)
    block = text[text.index("```text\n", start) + 8:]
    block = block[:block.index("```")]
    out = []
    for line in block.splitlines():
        left, right = line.split("  →  ")
        out.append((left.strip(), right.strip()))
    if len(out) < 5:
        raise AssertionError("too few examples under %r" % heading)
    return out


def outcome(ok, value, error):
    """A result as the document writes it."""
    if ok:
        return json.loads(json.dumps(value))
    return "%s: %s" % (error["type"], error["message"])


def expected(right):
    try:
        return json.loads(right)
    except ValueError:
        return right  # "Type: message"


class ProtocolDocTest(fx.ClusterTest):
    def setUp(self):
        self.c = self.start_cluster(("w1",))
        self.me = fx.Mqtt(self.c.broker.port, "doc-client")
        self.addCleanup(self.me.close)
        self.me.subscribe(P + "node/doc/in")

    def send(self, msg):
        msg = dict({"v": 1, "from": "doc", "inc": 11}, **msg)
        self.me.publish(P + "node/w1/in", json.dumps(msg))

    def reply(self, pred, what):
        _, payload, _ = self.me.expect(
            lambda t, p, r: pred(fx.parse_envelope(p)), 15, what + self.logs())
        return fx.parse_envelope(payload)

    def test_builtin_task_examples(self):
        lines = examples("### 4.1 Built-in tasks")
        for i, (left, right) in enumerate(lines, start=1):
            with self.subTest(left):
                name, _, rest = left.partition(" ")
                args = json.loads(rest)
                task = {"id": i, "name": name, "args": args, "attempt": 1}
                self.send({"kind": "lease", "fid": i, "ttl_ms": 30000,
                           "tasks": [task]})
                done = self.reply(
                    lambda m: m.get("kind") == "done" and
                    any(r["id"] == i for r in m["results"]), "done of " + left)
                r = [r for r in done["results"] if r["id"] == i][0]
                self.assertEqual(r["attempt"], 1)
                self.assertEqual(outcome(r["ok"], r.get("value"), r.get("error")),
                                 expected(right), left)

    def test_canvas_examples(self):
        lines = examples("#### Canvas JSON")
        for rid, (left, right) in enumerate(lines, start=1):
            with self.subTest(left):
                self.send({"kind": "submit", "rid": rid, "canvas": json.loads(left)})
                sub = self.reply(lambda m: m.get("kind") == "submitted" and
                                 m.get("rid") == rid, "submitted for " + left)
                qrid = 1000 + rid
                self.send({"kind": "query", "rid": qrid, "id": sub["id"]})
                res = self.reply(lambda m: m.get("kind") == "result" and
                                 m.get("rid") == qrid, "result of " + left)
                got = outcome(res["state"] == "SUCCESS", res.get("value"),
                              res.get("error"))
                self.assertEqual(got, expected(right), left)

    def test_a_bad_canvas_names_the_culprit(self):
        self.send({"kind": "submit", "rid": 1,
                   "canvas": {"chain": [{"task": "add", "args": [1, 1]}, {"args": [8]}]}})
        res = self.reply(lambda m: m.get("kind") == "result", "a CanvasError")
        self.assertEqual(res["state"], "FAILURE", res)
        self.assertEqual(res["error"]["type"], "CanvasError", res)
        self.assertTrue(re.search(r"^canvas\.chain\[1\]: expected one of task",
                                  res["error"]["message"]), res)


if __name__ == "__main__":
    fx.main()
