"""floret_fixture - shared fixture of the integration tests.

Starts a real mosquitto on a free loopback port and real `floret node`
processes, gives tests an MQTT client (Debian's python3-paho-mqtt) and a way
to run the floret command, and always cleans up: every child is killed when
the test ends, when the fixture is garbage-collected, at interpreter exit, and
(through PR_SET_PDEATHSIG, via util-linux setpriv) even when this process is
SIGKILLed by a ctest timeout.

Depends on the Python standard library, paho-mqtt, mosquitto and the binaries
named by the environment: FLORET_BIN (the floret command) and, for tests that
need it, MANY_CALLS_BIN.
"""

import atexit
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import paho.mqtt.client as mqtt

FLORET_BIN = os.environ.get("FLORET_BIN", "")
MANY_CALLS_BIN = os.environ.get("MANY_CALLS_BIN", "")
PREFIX = "floret/v1/default/"

_live_processes = []


def _kill_all_live():
    for p in list(_live_processes):
        stop_process(p, grace=1.0)


atexit.register(_kill_all_live)


def _on_term(signum, frame):
    # Turn SIGTERM/SIGHUP into a normal exit so that cleanups run.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGHUP, _on_term)


def find_mosquitto():
    path = shutil.which("mosquitto")
    if path:
        return path
    for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(p, os.X_OK):
            return p
    raise RuntimeError("mosquitto not found; install the Debian package 'mosquitto'")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def spawn(argv, log_path=None, env=None, new_session=True, stdout=None):
    """Start argv so that it dies with us; output goes to log_path."""
    wrapped = ["setpriv", "--pdeathsig", "KILL", "--"] + list(argv)
    out = open(log_path, "ab") if log_path else None
    try:
        p = subprocess.Popen(
            wrapped,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else (out or subprocess.DEVNULL),
            stderr=out or subprocess.DEVNULL,
            env=env,
            start_new_session=new_session,
        )
    finally:
        if out:
            out.close()
    _live_processes.append(p)
    return p


def stop_process(p, sig=signal.SIGTERM, grace=5.0):
    """Signal p, wait up to grace seconds, then SIGKILL. Returns its status."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
    if p in _live_processes:
        _live_processes.remove(p)
    return p.returncode


def wait_until(pred, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Broker:
    """A private mosquitto on a free loopback port; restartable on that port.
    extra_conf lines go after the listener line (TLS files, password and ACL
    files); anonymous=False refuses clients without a user."""

    def __init__(self, workdir, port=None, extra_conf=(), anonymous=True):
        self.workdir = workdir
        self.port = port
        self.extra_conf = list(extra_conf)
        self.anonymous = anonymous
        self.proc = None
        self.conf = os.path.join(workdir, "mosquitto.conf")
        self.log = os.path.join(workdir, "mosquitto.log")

    @property
    def url(self):
        return "mqtt://127.0.0.1:%d" % self.port

    def _write_conf(self):
        lines = [
            "listener %d 127.0.0.1" % self.port,
        ] + self.extra_conf + [
            "allow_anonymous %s" % ("true" if self.anonymous else "false"),
            "persistence false",
            "max_queued_messages 100000",
            "set_tcp_nodelay true",
            "log_dest file %s" % self.log,
        ]
        if os.geteuid() == 0:
            # Otherwise mosquitto drops to user "mosquitto", who cannot write here.
            lines.append("user root")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10.0):
        tries = 1 if self.port else 5
        for _ in range(tries):
            if not self.port or tries > 1:
                self.port = free_port()
            self._write_conf()
            self.proc = spawn([find_mosquitto(), "-c", self.conf], self.log)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if port_accepts(self.port):
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            stop_process(self.proc, grace=1.0)
        raise RuntimeError("mosquitto did not start; log:\n" + read_text(self.log))

    def stop(self):
        if self.proc:
            stop_process(self.proc, grace=5.0)
            self.proc = None

    def kill(self):
        """SIGKILL: the broker dies with every message it held."""
        if self.proc:
            stop_process(self.proc, sig=signal.SIGKILL, grace=5.0)
            self.proc = None


class Node:
    """A real `floret node` process."""

    def __init__(self, broker, name, workdir, extra=()):
        self.name = name
        self.log = os.path.join(workdir, "node-%s.log" % name)
        argv = [FLORET_BIN, "node", "--broker", broker.url, "--name", name] + list(extra)
        self.proc = spawn(argv, self.log)

    def log_text(self):
        return read_text(self.log)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        return stop_process(self.proc, sig=sig, grace=8.0)

    def kill(self):
        return stop_process(self.proc, sig=signal.SIGKILL, grace=5.0)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def make_client(client_id):
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=client_id,
                           clean_session=True)
    return mqtt.Client(client_id=client_id, clean_session=True)


class Mqtt:
    """A plain MQTT client that queues every message it receives."""

    def __init__(self, port, client_id, username=None, password=None):
        self.messages = queue.Queue()
        self.client = make_client(client_id)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, bytes(m.payload), bool(m.retain)))
        self._connected = queue.Queue()
        self.client.on_connect = lambda c, u, f, rc: self._connected.put(rc)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        try:
            rc = self._connected.get(timeout=10)
        except queue.Empty:
            rc = -1
        if rc != 0:
            self.close()
            raise RuntimeError("MQTT connect to port %d failed (rc %s)" % (port, rc))

    def subscribe(self, topic, qos=1):
        done = queue.Queue()
        self.client.on_subscribe = lambda c, u, mid, granted: done.put(mid)
        rc, mid = self.client.subscribe(topic, qos)
        if rc != 0:
            raise RuntimeError("subscribe %s failed: %s" % (topic, rc))
        done.get(timeout=10)

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise RuntimeError("publish to %s not acknowledged" % topic)

    def expect(self, pred, timeout, what="message"):
        """The first queued message (topic, payload, retain) with pred true;
        others are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if pred(*msg):
                return msg

    def drain(self, seconds):
        """Every message received in the next `seconds`."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                out.append(self.messages.get(timeout=left))
            except queue.Empty:
                return out

    def close(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def parse_envelope(payload):
    """The JSON object of a floret payload (the part before an attachment)."""
    text = payload.split(b"\x00", 1)[0]
    return json.loads(text.decode("utf-8"))


def wait_online(port, names, timeout=15.0):
    """Wait until every node in names has a retained presence saying online;
    returns {name: presence}."""
    m = Mqtt(port, "fixture-watch-%d" % os.getpid())
    try:
        m.subscribe(PREFIX + "node/+")
        seen = {}
        deadline = time.monotonic() + timeout
        while not all(seen.get(n, {}).get("state") == "online" for n in names):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("nodes not online within %.0f s: %s (seen %s)"
                                     % (timeout, names, seen))
            try:
                topic, payload, _ = m.messages.get(timeout=left)
            except queue.Empty:
                continue
            try:
                seen[topic[len(PREFIX + "node/"):]] = parse_envelope(payload)
            except ValueError:
                pass
        return seen
    finally:
        m.close()


class Cluster:
    """A broker plus named nodes in a private temp dir; close() removes all."""

    def __init__(self, nodes=(), node_args=()):
        if not FLORET_BIN or not os.access(FLORET_BIN, os.X_OK):
            raise RuntimeError("FLORET_BIN must name the floret binary (got %r)" % FLORET_BIN)
        self.workdir = tempfile.mkdtemp(prefix="floret-it-")
        self.nodes = {}
        self.broker = Broker(self.workdir)
        try:
            self.broker.start()
            for name in nodes:
                self.add_node(name, node_args)
            if nodes:
                wait_online(self.broker.port, list(nodes))
        except BaseException:
            self.close()
            raise

    @property
    def url(self):
        return self.broker.url

    def add_node(self, name, extra=()):
        self.nodes[name] = Node(self.broker, name, self.workdir, extra)
        return self.nodes[name]

    def env(self):
        env = dict(os.environ)
        env["FLORET_BROKER"] = self.url
        return env

    def floret(self, *args, timeout=60, input=None):
        """Run the floret command against this cluster (input: its stdin,
        else none)."""
        stdin = {"stdin": subprocess.DEVNULL} if input is None else {"input": input}
        return subprocess.run([FLORET_BIN] + list(args), env=self.env(),
                              capture_output=True, timeout=timeout, text=True,
                              **stdin)

    def logs(self):
        parts = ["--- broker log\n" + read_text(self.broker.log)]
        for name, node in self.nodes.items():
            parts.append("--- node %s log\n%s" % (name, node.log_text()))
        return "\n".join(parts)

    def close(self):
        for node in self.nodes.values():
            node.stop()
        self.broker.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class ClusterTest(unittest.TestCase):
    """A TestCase with a cluster that is always closed; assertion messages
    carry the logs via self.logs()."""

    cluster = None

    def start_cluster(self, nodes=("w1", "w2"), node_args=()):
        self.cluster = Cluster(nodes, node_args)
        self.addCleanup(self._close_cluster)
        return self.cluster

    def _close_cluster(self):
        if self.cluster:
            self.cluster.close()
            self.cluster = None

    def logs(self, limit=12000):
        return "\n" + self.cluster.logs()[-limit:] if self.cluster else ""


def main():
    if not FLORET_BIN:
        sys.stderr.write("FLORET_BIN is not set\n")
        sys.exit(2)
    unittest.main(verbosity=2)
