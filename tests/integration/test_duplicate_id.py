#!/usr/bin/env python3
"""test_duplicate_id - two nodes never fight over one node id (the MQTT
client id): a second `floret node --name w1` beside a live w1 exits at once
with status 4 and one line naming the id, and w1 never loses its
connection; a node restarting after a crash whose presence still says
online starts; a node whose id was taken over while it was frozen stops
instead of reconnecting. docs/protocol.md section 1.
Depends on floret_fixture (real mosquitto, real floret nodes, paho-mqtt)."""

import json
import os
import signal
import time

import floret_fixture as fx


def reconnects(log):
    return log.count("lost broker") + log.count("reconnected to broker")


class DuplicateIdTest(fx.ClusterTest):
    def spawn_node(self, c, name, log_name):
        log = os.path.join(c.workdir, log_name)
        argv = [fx.FLORET_BIN, "node", "--broker", c.url, "--name", name, "--slots", "1"]
        return fx.spawn(argv, log), log

    def presence(self, c, name):
        m = fx.Mqtt(c.broker.port, "it-dup-watch-%d" % os.getpid())
        try:
            m.subscribe(fx.PREFIX + "node/" + name)
            _, payload, _ = m.expect(lambda t, p, r: True, 10, "presence of " + name)
            return fx.parse_envelope(payload)
        finally:
            m.close()

    def wait_new_incarnation(self, c, name, old, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            p = self.presence(c, name)
            if p.get("inc") != old and p.get("state") == "online":
                return p
            self.assertLess(time.monotonic(), deadline, "no new %s online%s" %
                            (name, self.logs()))
            time.sleep(0.2)

    def test_second_node_with_the_same_name_is_refused(self):
        c = self.start_cluster(("w1",))
        first = self.presence(c, "w1")
        proc, log = self.spawn_node(c, "w1", "node-w1-second.log")
        code = proc.wait(timeout=20)
        text = fx.read_text(log)
        self.assertEqual(code, 4, text + self.logs())
        errors = [l for l in text.splitlines() if "error" in l]
        self.assertEqual(len(errors), 1, text)
        self.assertIn("node id 'w1' is in use", errors[0])
        self.assertIn("another node holds it (incarnation %d)" % first["inc"], errors[0])
        # The first w1 never lost its connection, still holds its presence
        # and still serves.
        time.sleep(1.0)
        self.assertTrue(c.nodes["w1"].alive())
        self.assertEqual(reconnects(c.nodes["w1"].log_text()), 0, self.logs())
        self.assertEqual(self.presence(c, "w1")["inc"], first["inc"])
        r = c.floret("call", "add", "2", "3", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())

    def test_restart_with_a_stale_online_presence_starts(self):
        # A node that lost power: its retained presence still says online
        # (the broker would publish its will only after the keep-alive),
        # and nothing answers on its inbox.
        c = self.start_cluster(())
        stale = {"v": 1, "kind": "presence", "from": "w1", "inc": 12345, "state": "online",
                 "slots": 1, "tasks": ["add"], "runtime": "native", "arch": "x", "version": "0",
                 "load": 0}
        m = fx.Mqtt(c.broker.port, "it-dup-stale")
        m.publish(fx.PREFIX + "node/w1", json.dumps(stale), retain=True)
        m.close()
        c.add_node("w1", ["--slots", "1"])
        self.wait_new_incarnation(c, "w1", 12345)
        self.assertTrue(c.nodes["w1"].alive(), self.logs())
        r = c.floret("call", "add", "2", "3", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())
        # A crash (SIGKILL) and an immediate restart with the same name.
        old = self.presence(c, "w1")["inc"]
        c.nodes["w1"].kill()
        c.add_node("w1", ["--slots", "1"])
        self.wait_new_incarnation(c, "w1", old)
        self.assertTrue(c.nodes["w1"].alive(), self.logs())

    def test_node_taken_over_while_frozen_stops_without_a_storm(self):
        c = self.start_cluster(("w1",))
        a = c.nodes["w1"]
        # Frozen: its connection stays open but it answers nothing, as a
        # node that hung; a new w1 then finds nobody answering and takes
        # the id over.
        a.proc.send_signal(signal.SIGSTOP)
        try:
            b, blog = self.spawn_node(c, "w1", "node-w1-new.log")
            fx.wait_until(lambda: "online" in fx.read_text(blog) or b.poll() is not None,
                          20, what="the new w1 online")
            self.assertIsNone(b.poll(), fx.read_text(blog))
        finally:
            a.proc.send_signal(signal.SIGCONT)
        # The old one notices it lost its connection, finds the new one
        # holding the id and stops, with status 4.
        code = a.proc.wait(timeout=30)
        self.assertEqual(code, 4, a.log_text())
        self.assertIn("node id 'w1' was taken over by another node", a.log_text())
        time.sleep(1.0)
        self.assertIsNone(b.poll(), fx.read_text(blog))
        self.assertEqual(reconnects(fx.read_text(blog)), 0, fx.read_text(blog) + self.logs())
        r = c.floret("call", "add", "2", "3", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())
        fx.stop_process(b)


if __name__ == "__main__":
    fx.main()
