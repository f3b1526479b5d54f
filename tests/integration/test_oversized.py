#!/usr/bin/env python3
"""test_oversized - a message far over a node's --max-message never reaches
it: the node connects with MQTT 5 and announces its largest packet, so the
broker (a plain Mosquitto without max_packet_size) drops a 64 MB publish
to its inbox. The node survives, keeps serving calls, and its peak RSS
(VmHWM) grows by less than the message would take. Not timed.
Depends on floret_fixture."""

import os
import signal

import floret_fixture as fx

MAX = 1024 * 1024
PAYLOAD = 64 * 1000 * 1000


def peak_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for pid %d" % pid)


class OversizedTest(fx.ClusterTest):
    def test_big_publish_is_dropped_by_the_broker(self):
        c = self.start_cluster(())
        node = c.add_node("big", ["--slots", "1", "--max-message", str(MAX)])
        fx.wait_online(c.broker.port, ["big"])
        r = c.floret("call", "add", "1", "1", "--timeout", "20")
        self.assertEqual(r.stdout.strip(), "2", r.stderr + self.logs())
        # setpriv execs floret in place, so the process is the node itself.
        base = peak_kib(node.proc.pid)
        m = fx.Mqtt(c.broker.port, "big-publisher")
        try:
            m.publish(fx.PREFIX + "node/big/in", b"\0" * PAYLOAD)
        finally:
            m.close()
        r = c.floret("call", "add", "2", "2", "--timeout", "20")
        self.assertEqual(r.stdout.strip(), "4", r.stderr + self.logs())
        self.assertTrue(node.alive(), self.logs())
        peak = peak_kib(node.proc.pid)
        self.assertLess(peak - base, 2 * MAX // 1024 + 4096,
                        "peak RSS %d -> %d KiB: the message was read" % (base, peak))
        self.assertEqual(node.stop(signal.SIGTERM), 0, self.logs())


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
