#!/usr/bin/env python3
"""test_mqtt311 - a node and a client on a broker that speaks only MQTT
3.1.1 (docs/security.md, "Messages too big to accept"). Debian 12's
Mosquitto (2.0.11) has no setting that refuses MQTT 5 on a listener, so
the 3.1.1-only broker here is a front written below: it answers a CONNECT
of protocol level 5 as a 3.1.1 broker does (CONNACK return code 1,
"unacceptable protocol version"; or, in the second case, as an MQTT 5
broker that refuses the version, reason 0x84) and passes any other
connection through to a real Mosquitto. The node must ask for MQTT 5 once,
with its maximum packet size, fall back to 3.1.1 with one warning, come
online, serve calls (from a client that falls back too), leave a will
that turns it offline when killed, and, as documented, read a message over
its --max-message and refuse it (a TooBig reply to the sender) instead of
having the broker drop it. Depends on floret_fixture."""

import json
import signal
import socket
import struct
import threading
import time

import floret_fixture as fx

MAX = 64 * 1024


def read_packet(sock):
    """One MQTT packet (fixed header included) or None at EOF."""
    head = sock.recv(1)
    if not head:
        return None
    length, mult, raw = 0, 1, b""
    while True:
        b = sock.recv(1)
        if not b:
            return None
        raw += b
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return head + raw + body, head[0], body


def connect_info(body):
    """(protocol level, Maximum Packet Size property or None) of a CONNECT."""
    n, = struct.unpack(">H", body[:2])
    pos = 2 + n
    level = body[pos]
    pos += 1 + 1 + 2  # connect flags, keep alive
    if level != 5:
        return level, None
    # Properties: a variable byte integer length, then id/value pairs.
    plen, mult = 0, 1
    while True:
        b = body[pos]
        pos += 1
        plen += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    props, i, maxp = body[pos:pos + plen], 0, None
    while i < len(props):
        pid = props[i]
        i += 1
        if pid == 0x27:  # Maximum Packet Size, four bytes
            maxp, = struct.unpack(">I", props[i:i + 4])
            i += 4
        elif pid == 0x11:  # Session Expiry Interval
            i += 4
        elif pid in (0x21, 0x22):  # Receive Maximum, Topic Alias Maximum
            i += 2
        elif pid in (0x17, 0x19):  # Request Problem/Response Information
            i += 1
        elif pid == 0x26:  # User Property: two strings
            for _ in range(2):
                k, = struct.unpack(">H", props[i:i + 2])
                i += 2 + k
        else:  # Authentication Method/Data: a string or binary
            k, = struct.unpack(">H", props[i:i + 2])
            i += 2 + k
    return level, maxp


class Front:
    """A 3.1.1-only broker in front of a real Mosquitto on upstream."""

    def __init__(self, upstream, refusal):
        self.upstream = upstream
        self.refusal = refusal  # bytes of the CONNACK that refuses MQTT 5
        # (empty: close without a word, as RabbitMQ 3.10 does)
        self.connects = []      # (level, max packet size) of every CONNECT
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.open = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.open.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            p = read_packet(c)
            if p is None or p[1] >> 4 != 1:
                c.close()
                return
            info = connect_info(p[2])
            with self.lock:
                self.connects.append(info)
            if info[0] == 5:
                if self.refusal:
                    c.sendall(self.refusal)
                c.close()
                return
            up = socket.create_connection(("127.0.0.1", self.upstream))
            self.open.append(up)
            up.sendall(p[0])
            threading.Thread(target=self._pump, args=(up, c), daemon=True).start()
            self._pump(c, up)
        except OSError:
            c.close()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.sock.close()
        for s in self.open:
            try:
                s.close()
            except OSError:
                pass


class Mqtt311Test(fx.ClusterTest):
    def start(self, refusal):
        c = self.start_cluster(())
        self.front = Front(c.broker.port, refusal)
        self.addCleanup(self.front.close)
        self.url = "mqtt://127.0.0.1:%d" % self.front.port
        return c

    def node_via_front(self, c, name, extra=()):
        node = fx.Node(c.broker, name, c.workdir, extra)
        node.proc.kill()  # replaced below, pointed at the front
        node.proc.wait()
        argv = [fx.FLORET_BIN, "node", "--broker", self.url, "--name", name,
                "--slots", "1", "--max-message", str(MAX)] + list(extra)
        node.proc = fx.spawn(argv, node.log)
        c.nodes[name] = node
        fx.wait_online(c.broker.port, [name])
        return node

    def call(self, *args):
        return self.cluster.floret("call", "--broker", self.url, *args, "--timeout", "20")

    def check_fallback(self, node):
        log = node.log_text()
        self.assertNotIn("cannot connect", log)
        self.assertEqual(log.count("does not speak MQTT 5; using 3.1.1"), 1, log)
        with self.front.lock:
            connects = list(self.front.connects)
        # The id probe (a short 3.1.1 connection of its own, probe.c) may
        # come first; the node's own connection asks for 5 once, with its
        # maximum packet size, then takes 3.1.1.
        v5 = [i for i, info in enumerate(connects) if info[0] == 5]
        self.assertEqual(len(v5), 1, connects)
        self.assertEqual(connects[v5[0]], (5, MAX + 4096), connects)
        self.assertIn((4, None), connects[v5[0] + 1:], connects)

    def test_311_broker_refusal_code(self):
        c = self.start(b"\x20\x02\x00\x01")  # 3.1.1: unacceptable protocol version
        node = self.node_via_front(c, "old1")
        self.check_fallback(node)
        r = self.call("add", "2", "3")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())
        # Retained presence and the will under 3.1.1: killed, it goes offline.
        m = fx.Mqtt(c.broker.port, "watch-presence")
        try:
            m.subscribe(fx.PREFIX + "node/old1")
            node.kill()
            m.expect(lambda t, p, r: p and fx.parse_envelope(p).get("state") == "offline",
                     30, "old1's will (offline presence)")
        finally:
            m.close()

    def test_mqtt5_unsupported_version_reason(self):
        c = self.start(b"\x20\x03\x00\x84\x00")  # MQTT 5 CONNACK, 0x84
        node = self.node_via_front(c, "old2")
        self.check_fallback(node)
        r = self.call("mul", "6", "7")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "42"), r.stderr + self.logs())

    def test_broker_closes_on_mqtt5(self):
        # RabbitMQ 3.10's MQTT plugin cannot parse an MQTT 5 CONNECT and
        # closes the connection without a CONNACK (test_rabbit_cluster.py
        # meets the real one).
        c = self.start(b"")
        node = self.node_via_front(c, "old4")
        self.check_fallback(node)
        self.assertIn("closed the connection on an MQTT 5 CONNECT", node.log_text())
        r = self.call("add", "20", "22")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "42"), r.stderr + self.logs())

    def test_oversized_is_read_then_refused(self):
        c = self.start(b"\x20\x02\x00\x01")
        node = self.node_via_front(c, "old3")
        m = fx.Mqtt(c.broker.port, "evil")
        try:
            m.subscribe(fx.PREFIX + "node/evil/in")
            head = json.dumps({"v": 1, "kind": "call", "from": "evil", "mid": 7}).encode()
            # A JSON object padded far past the limit: only its start is read.
            payload = head[:-1] + b', "pad": "' + b"x" * (4 * MAX) + b'"}'
            m.publish(fx.PREFIX + "node/old3/in", payload)
            _, p, _ = m.expect(lambda t, p, r: b"TooBig" in p, 20, "a TooBig reply")
            reply = fx.parse_envelope(p)
            self.assertEqual(reply.get("re"), 7, reply)
        finally:
            m.close()
        self.assertIn("dropped message on", node.log_text())
        r = self.call("add", "1", "1")
        self.assertEqual(r.stdout.strip(), "2", r.stderr + self.logs())
        self.assertTrue(node.alive())
        self.assertEqual(node.stop(signal.SIGTERM), 0, self.logs())


if __name__ == "__main__":
    fx.main()
