#!/usr/bin/env python3
"""test_mcu_worker_only - the firmware's core is worker-only (no owner,
keeper, client or canvas code): its presence says "keeper":false; a fetch
sent to it gets a BadMessage error naming the fetch and saying the board
owns no tasks, a submit a FAILURE result NotAKeeper, and it goes on
serving; `floret run --async --owner <board>` fails at once with that
reason; `floret run --async` with a POSIX node online hands the workflow
to the POSIX node, never to the board. Depends on mcu_fixture."""

import json

import mcu_fixture as mf
from mcu_fixture import fx

INBOX = fx.PREFIX + "node/mcu1/in"
PROBE_INBOX = fx.PREFIX + "node/probe/in"


def kind_is(kind):
    def pred(topic, payload, retain):
        try:
            return json.loads(payload).get("kind") == kind
        except ValueError:
            return False
    return pred


class WorkerOnlyTest(mf.McuTest):
    def setUp(self):
        self.c = self.start_cluster(("w1",))
        self.fw = self.add_board("mcu1")

    def call_on_board(self, *args):
        return self.c.floret("call", *args, "--route", "mcu1", "--timeout", "20", timeout=40)

    def test_presence_says_no_keeper(self):
        pres = fx.wait_online(self.c.broker.port, ["mcu1", "w1"])
        self.assertIs(pres["mcu1"].get("keeper"), False, pres["mcu1"])
        self.assertNotIn("keeper", pres["w1"], pres["w1"])
        r = self.c.floret("status", "--json", "--wait", "1500")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        peers = {p["id"]: p for p in json.loads(r.stdout)}
        self.assertIs(peers["mcu1"]["keeper"], False, peers["mcu1"])
        self.assertIs(peers["w1"]["keeper"], True, peers["w1"])

    def test_fetch_and_submit_get_a_clear_error(self):
        m = fx.Mqtt(self.c.broker.port, "probe")
        try:
            m.subscribe(PROBE_INBOX)
            m.publish(INBOX, b'{"v":1,"kind":"fetch","from":"probe","inc":1,"mid":41,'
                             b'"fid":1,"credit":4}')
            _, p, _ = m.expect(kind_is("error"), 20, "the error answering the fetch")
            e = json.loads(p)
            self.assertEqual((e["from"], e.get("re"), e["error"]["type"]),
                             ("mcu1", 41, "BadMessage"), e)
            self.assertEqual(e["error"]["message"],
                             "fetch: this node owns no tasks (a worker-only build)", e)
            m.publish(INBOX, b'{"v":1,"kind":"submit","from":"probe","inc":1,"rid":7,'
                             b'"canvas":{"task":"add","args":[1,2]}}')
            _, p, _ = m.expect(kind_is("result"), 20, "the result answering the submit")
            res = json.loads(p)
            self.assertEqual((res["rid"], res["state"], res["error"]["type"]),
                             (7, "FAILURE", "NotAKeeper"), res)
            self.assertIn("this node owns no tasks", res["error"]["message"], res)
        finally:
            m.close()
        self.assertTrue(self.fw.alive(), self.logs())
        r = self.call_on_board("add", "4", "4")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "8"), r.stderr + self.logs())
        st = self.fw.wait_stats(lambda s: s["bad"] >= 1, 10, "the fetch counted as bad")
        self.assertEqual(st["arena_failures"], 0, st)

    def test_floret_run_async_on_the_board_fails_at_once(self):
        r = self.c.floret("run", "--async", "--owner", "mcu1", "add(1, 2)", timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("NotAKeeper", r.stderr)
        self.assertIn("this node owns no tasks", r.stderr)
        self.assertNotIn("did not accept the workflow within", r.stderr)
        r = self.call_on_board("add", "20", "22")
        self.assertEqual(r.stdout.strip(), "42", r.stderr + self.logs())

    def test_floret_run_async_picks_a_keeper(self):
        fx.wait_online(self.c.broker.port, ["mcu1", "w1"])
        for _ in range(4):
            r = self.c.floret("run", "--async", "add(1, 2)", timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.logs())
            wid = r.stdout.strip()
            self.assertTrue(wid.startswith("w1:"), wid)
            r = self.c.floret("result", wid, "--timeout", "20", timeout=40)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "3"), r.stderr + self.logs())


if __name__ == "__main__":
    mf.main()
