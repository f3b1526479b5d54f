"""deploy_fixture - what the hot-deploy tests share on top of floret_fixture:
a key pair made with `floret keygen`, Lua modules written to the test's
directory, `floret deploy` runs, and waiting until nodes list a module
version in their retained presence (or stop listing it).

Also sign_deploy, a deploy signed here with a timestamp and source of the
test's choosing (for what `floret deploy` itself would refuse to send).
Depends on floret_fixture (real broker, real nodes), the standard library
and, for sign_deploy only, python3-cryptography."""

import hashlib
import json
import os
import queue
import time

import floret_fixture as fx


def presences(port, timeout=0.5):
    """{node: presence} from the retained presence topics right now."""
    m = fx.Mqtt(port, "deploy-watch-%d-%d" % (os.getpid(), int(time.monotonic() * 1e6)))
    try:
        m.subscribe(fx.PREFIX + "node/+")
        seen = {}
        for topic, payload, _ in m.drain(timeout):
            try:
                seen[topic[len(fx.PREFIX + "node/"):]] = fx.parse_envelope(payload)
            except ValueError:
                pass
        return seen
    finally:
        m.close()


def wait_modules(port, nodes, want, timeout=15.0):
    """Wait until every node in nodes is online with module list == want
    (a set of "name@version"); returns the presences."""
    deadline = time.monotonic() + timeout
    while True:
        seen = presences(port)
        if all(seen.get(n, {}).get("state") == "online" and
               set(seen[n].get("modules", [])) == set(want) for n in nodes):
            return seen
        if time.monotonic() >= deadline:
            raise AssertionError("nodes %s did not list modules %s within %.0f s: %s"
                                 % (nodes, sorted(want), timeout,
                                    {n: seen.get(n, {}).get("modules") for n in nodes}))
        time.sleep(0.1)


def sign_deploy(key_path, module, source, ts, cluster="default"):
    """A deploy payload signed like `floret deploy` (docs/protocol.md 3.9),
    with the timestamp given."""
    # Here, not at the top: only the tests that sign need python3-cryptography.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    with open(key_path) as f:
        tag, hexkey = f.read().split()
    assert tag == "floret-ed25519-secret"
    sk = bytes.fromhex(hexkey)
    priv = Ed25519PrivateKey.from_private_bytes(sk[:32])
    src = source.encode()
    version = hashlib.sha256(src).hexdigest()[:12]
    text = "floret-ctl-v1\n%s\ndeploy\n%s\n%s\n%d\n%s\n" % (
        cluster, module, version, ts, hashlib.sha256(src).hexdigest())
    sig = priv.sign(text.encode()).hex()
    env = {"v": 1, "kind": "deploy", "from": "ops", "module": module, "ts": ts,
           "version": version, "key": sk[32:40].hex(), "sig": sig, "bin": len(src)}
    return json.dumps(env).encode() + b"\x00" + src


class DeployTest(fx.ClusterTest):
    """A ClusterTest with a key pair; nodes trust it unless told otherwise."""

    def start_trusting(self, nodes=("w1", "w2"), extra=()):
        c = self.start_cluster((), ())
        self.key, self.pub = self.keygen("deployer")
        for n in nodes:
            self.add_trusting(n, extra)
        fx.wait_online(c.broker.port, list(nodes))
        return c

    def add_trusting(self, name, extra=()):
        return self.cluster.add_node(name, ["--slots", "2", "--trust", self.pub] + list(extra))

    def keygen(self, name):
        prefix = os.path.join(self.cluster.workdir, name)
        r = self.cluster.floret("keygen", "--out", prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        return prefix + ".key", prefix + ".pub"

    def write_module(self, name, source):
        path = os.path.join(self.cluster.workdir, name + ".lua")
        with open(path, "w") as f:
            f.write(source)
        return path

    def deploy(self, path, *args, ok=True):
        r = self.cluster.floret("deploy", path, *args)
        if ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def version_of(self, deploy_result):
        """The version `floret deploy` printed."""
        for word_prev, word in zip(deploy_result.stdout.split(), deploy_result.stdout.split()[1:]):
            if word_prev == "version":
                return word
        raise AssertionError("no version in: " + deploy_result.stdout)

    def call(self, *args, timeout=20):
        return self.cluster.floret("call", *args, "--timeout", str(timeout))

    def assert_call(self, want, *args):
        r = self.call(*args)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, want),
                         "%r: %s%s" % (args, r.stderr, self.logs()))

    def assert_unknown(self, task):
        r = self.call(task, timeout=10)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("UnknownTask", r.stderr)

    def wait_log(self, node, text, timeout=10.0):
        fx.wait_until(lambda: text in self.cluster.nodes[node].log_text(), timeout,
                      what="'%s' in the log of %s" % (text, node))


def drain_queue(q):
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out
