#!/usr/bin/env python3
"""test_mcu_serve - the firmware, booted in QEMU, joins a real Mosquitto's
cluster and serves: it shows in `floret status` with arch cortex-m3, its
native tasks and one slot; `floret call add 4 4 --route <it>` prints 8; an
unknown task and a wrong argument type fail with clear errors; garbage,
oversized and malformed messages on its inbox are refused and it goes on
serving. Depends on mcu_fixture."""

import json

import mcu_fixture as mf
from mcu_fixture import fx

INBOX = fx.PREFIX + "node/mcu1/in"


class ServeTest(mf.McuTest):
    def setUp(self):
        self.c = self.start_cluster(())
        self.fw = self.add_board("mcu1")

    def call(self, *args):
        return self.c.floret("call", *args, "--route", "mcu1", "--timeout", "20", timeout=40)

    def test_presence_says_its_limit(self):
        pres = fx.wait_online(self.c.broker.port, ["mcu1"])["mcu1"]
        self.assertEqual(pres["max_msg"], mf.MAX_MESSAGE, pres)
        self.assertEqual(pres["arch"], "cortex-m3", pres)

    def test_status_shows_the_board(self):
        r = self.c.floret("status", "--json", "--wait", "1500")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        peers = {p["id"]: p for p in json.loads(r.stdout)}
        self.assertIn("mcu1", peers, r.stdout)
        p = peers["mcu1"]
        self.assertEqual(p["state"], "online", p)
        self.assertEqual(p["arch"], "cortex-m3")
        self.assertEqual(p["runtime"], "native")
        self.assertEqual(p["slots"], 1)
        self.assertEqual(sorted(p["tasks"]),
                         sorted(["add", "mul", "xsum", "echo", "sleep", "fail", "wc.map"]), p)

    def test_add_on_the_board(self):
        r = self.call("add", "4", "4")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "8"), r.stderr + self.logs())
        r = self.call("xsum", "[1, 2, 3.5]")
        self.assertEqual(r.stdout.strip(), "6.5", r.stderr + self.logs())
        self.assertGreaterEqual(self.fw.wait_stats(lambda s: s["executed"] >= 2, 10,
                                                   "two tasks executed")["executed"], 2)

    def test_builtin_failures_are_clean(self):
        r = self.call("nosuch", "1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("UnknownTask", r.stderr)
        self.assertIn("nosuch", r.stderr)
        r = self.call("add", "4", '"x"')
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("TypeError: add(): argument 2 must be a number, not string", r.stderr)
        r = self.call("add", "4")
        self.assertIn("add() takes 2 positional arguments but 1 were given", r.stderr)
        # Still serving.
        self.assertEqual(self.call("add", "1", "2").stdout.strip(), "3", self.logs())

    def test_bad_messages_are_refused(self):
        m = fx.Mqtt(self.c.broker.port, "mcu-test-garbage")
        try:
            m.publish(INBOX, b"\x00\xff garbage \x01" * 10)
            m.publish(INBOX, b'{"v":1,"kind":"lease","from":"x","inc":1,"tasks":[{"id":')
            m.publish(INBOX, b'{"v":1,"kind":"lease","from":"x","inc":1,"fid":1,"ttl_ms":5,'
                             b'"tasks":[{"id":"one","name":7}]}')
            m.publish(INBOX, b'{"v":1,"kind":"presence","from":"x","inc":1}')
            m.publish(INBOX, b"[" * 3000 + b"]" * 3000)
            big = b'{"v":1,"kind":"fetch","from":"x","inc":1,"pad":"' + \
                b"a" * (3 * mf.MAX_MESSAGE) + b'"}'
            m.publish(INBOX, big)
            m.publish(INBOX, b"")
        finally:
            m.close()
        st = self.fw.wait_stats(lambda s: s["too_big"] >= 1 and s["bad"] >= 5, 15,
                                "the bad messages counted")
        self.assertEqual(st["too_big"], 1, st)
        self.assertEqual(st["arena_failures"], 0, st)
        self.assertTrue(self.fw.alive(), self.logs())
        r = self.call("add", "20", "22")
        self.assertEqual(r.stdout.strip(), "42", r.stderr + self.logs())
        console = self.fw.log_text()
        self.assertIn("over the limit of %d" % mf.MAX_MESSAGE, console)


if __name__ == "__main__":
    mf.main()
