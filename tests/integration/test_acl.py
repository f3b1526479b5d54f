#!/usr/bin/env python3
"""test_acl - the broker as the perimeter: a real Mosquitto runs with the
files `floret broker-config` writes (password file, ACL, no anonymous
access) and two nodes, each its own user. Normal work goes through it:
`floret call`, `run`, `status`, `wordcount` and a signed `deploy` by the
operator. The attacks of a peer holding node w2's credentials are refused
by the broker, checked by what arrives, not by what the nodes say: a
presence forged for w1 and for a made-up worker with 1,000 slots never
reaches an observer; a peer claiming to be w1 (fetches with w1's id and
incarnation, and from a ghost, which the owner asks for a presence and
leases nothing) receives no lease, and cannot subscribe to
w1's inbox; its control messages (a deploy signed with the trusted key,
a shutdown) and its `floret forget` never arrive, so the module it deployed does not exist; and
the workflow still finishes. Anonymous clients and wrong passwords are
refused at once. `floret local` runs the same way: anonymous access to its
broker is refused while its own command works.
Depends on floret_fixture, mosquitto_passwd and paho-mqtt."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import time
import unittest

import floret_fixture as fx

P = fx.PREFIX


class AclTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not fx.FLORET_BIN or not os.access(fx.FLORET_BIN, os.X_OK):
            raise RuntimeError("FLORET_BIN must name the floret binary")
        cls.dir = tempfile.mkdtemp(prefix="floret-it-acl-")
        cls.files = os.path.join(cls.dir, "broker")
        r = subprocess.run([fx.FLORET_BIN, "broker-config", "--nodes", "w1,w2,ghost",
                            "--clients", "alice", "--out", cls.files],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("floret broker-config failed: " + r.stderr)
        for f in ("passwd", "acl", "floret.conf", "README", "w1.password", "w2.password",
                  "ghost.password", "alice.password", "operator.password"):
            if not os.path.exists(os.path.join(cls.files, f)):
                raise RuntimeError("floret broker-config did not write " + f)
        cls.pw = {u: open(os.path.join(cls.files, u + ".password")).read().strip()
                  for u in ("w1", "w2", "ghost", "alice", "operator")}
        os.makedirs(os.path.join(cls.dir, "b"))
        cls.broker = fx.Broker(os.path.join(cls.dir, "b"), anonymous=False, extra_conf=[
            "password_file " + os.path.join(cls.files, "passwd"),
            "acl_file " + os.path.join(cls.files, "acl"),
        ]).start()
        subprocess.run([fx.FLORET_BIN, "keygen", "--out", os.path.join(cls.dir, "ops")],
                       check=True, capture_output=True, timeout=30)
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("FLORET_")}
        cls.nodes = {}
        for n in ("w1", "w2"):
            # No --name: a node is named after its user.
            cls.nodes[n] = fx.spawn(
                [fx.FLORET_BIN, "node", "--broker", cls.url(n), "--slots", "2",
                 "--password-file", os.path.join(cls.files, n + ".password"),
                 "--trust", os.path.join(cls.dir, "ops.pub")],
                os.path.join(cls.dir, n + ".log"), env=cls.env)
        cls.presence = cls.wait_online(["w1", "w2"])

    @classmethod
    def tearDownClass(cls):
        for p in cls.nodes.values():
            fx.stop_process(p)
        cls.broker.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def url(cls, user=None):
        return "mqtt://%s127.0.0.1:%d" % (user + "@" if user else "", cls.broker.port)

    @classmethod
    def mqtt(cls, user, client_id):
        return fx.Mqtt(cls.broker.port, client_id, user, cls.pw[user])

    @classmethod
    def wait_online(cls, names, timeout=20):
        m = cls.mqtt("operator", "acl-watch")
        try:
            m.subscribe(P + "node/+")
            seen = {}
            deadline = time.monotonic() + timeout
            while not all(seen.get(n, {}).get("state") == "online" for n in names):
                if time.monotonic() > deadline:
                    raise AssertionError("nodes not online: %s; logs:%s" % (seen, cls.logs()))
                try:
                    topic, payload, _ = m.messages.get(timeout=0.5)
                except queue.Empty:
                    continue
                seen[topic[len(P + "node/"):]] = fx.parse_envelope(payload)
            return seen
        finally:
            m.close()

    @classmethod
    def logs(cls):
        return "".join("\n--- %s\n%s" % (n, fx.read_text(os.path.join(cls.dir, n + ".log")))
                       for n in cls.nodes) + "\n--- broker\n" + fx.read_text(cls.broker.log)

    def floret(self, user, *args, timeout=60, env=None):
        e = dict(env or self.env, FLORET_BROKER=self.url(user),
                 FLORET_PASSWORD_FILE=os.path.join(self.files, user + ".password"))
        return subprocess.run([fx.FLORET_BIN] + list(args), capture_output=True, text=True,
                              timeout=timeout, env=e, stdin=subprocess.DEVNULL)

    def ok(self, r, expect=None):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.logs())
        if expect is not None:
            self.assertEqual(r.stdout.strip(), expect, r.stderr)

    # -------------------------------------------------------------- normal work

    def test_normal_work_goes_through(self):
        self.ok(self.floret("operator", "call", "add", "2", "3"), "5")
        self.ok(self.floret("alice", "call", "mul", "6", "7"), "42")
        self.ok(self.floret("alice", "run", "[add(1,1), add(2,2)] | xsum()"), "6")
        r = self.floret("alice", "status", "--json", "--wait", "1000")
        self.ok(r)
        ids = {n.get("id") for n in json.loads(r.stdout)}
        self.assertTrue({"w1", "w2"} <= ids, r.stdout)
        text = os.path.join(self.dir, "words.txt")
        with open(text, "w") as f:
            f.write("the cat and the hat\n" * 100)
        r = self.floret("alice", "wordcount", "--json", text)
        self.ok(r)
        self.assertEqual(json.loads(r.stdout)["words"], 500, r.stdout)

    def test_many_clients_of_one_user_at_once(self):
        procs = [subprocess.Popen([fx.FLORET_BIN, "call", "sleep", "0.5"], env=dict(
            self.env, FLORET_BROKER=self.url("alice"),
            FLORET_PASSWORD=self.pw["alice"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True) for _ in range(3)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err + self.logs())

    def test_strangers_refused_at_once(self):
        r = subprocess.run([fx.FLORET_BIN, "call", "add", "1", "1", "--broker", self.url()],
                           capture_output=True, text=True, timeout=30, env=self.env)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("not authori", r.stderr.lower())
        t0 = time.monotonic()
        r = subprocess.run([fx.FLORET_BIN, "call", "add", "1", "1", "--broker", self.url("w1")],
                           capture_output=True, text=True, timeout=30,
                           env=dict(self.env, FLORET_PASSWORD="wrong"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertLess(time.monotonic() - t0, 4.0, "a refused password is not retried")

    def test_node_refused_exits_3_at_once(self):
        # A node waits for a broker that is not up yet (test_broker_wait),
        # but not for one that refuses its password: that cannot change.
        t0 = time.monotonic()
        r = subprocess.run([fx.FLORET_BIN, "node", "--broker", self.url("ghost"),
                            "--name", "ghost"], capture_output=True, text=True, timeout=60,
                           env=dict(self.env, FLORET_PASSWORD="wrong"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("not authori", r.stderr.lower())
        self.assertLess(time.monotonic() - t0, 10.0, "a refused node is not retried")

    # ------------------------------------------------------------------ attacks

    def test_forged_presence_does_not_arrive(self):
        obs = self.mqtt("operator", "acl-observer")
        evil = self.mqtt("w2", "evil-presence")
        try:
            obs.subscribe(P + "node/+")
            obs.drain(0.5)  # the retained presences
            fake = {"v": 1, "kind": "presence", "from": "w1", "state": "offline"}
            ghost = {"v": 1, "kind": "presence", "from": "ghost", "state": "online",
                     "slots": 1000, "tasks": ["add", "sleep"]}
            evil.publish(P + "node/w1", json.dumps(fake), retain=True)
            evil.publish(P + "node/ghost", json.dumps(ghost), retain=True)
            evil.publish(P + "node/w1.evil-presence", json.dumps(ghost), retain=False)
            # The control: w2 may publish its own presence topic.
            evil.publish(P + "node/w2/events", b"{}")
            got = obs.drain(1.0)
            topics = [t for t, _, _ in got]
            self.assertNotIn(P + "node/w1", topics, got)
            self.assertNotIn(P + "node/ghost", topics, got)
            self.assertNotIn(P + "node/w1.evil-presence", topics, got)
        finally:
            obs.close()
            evil.close()
        # w1 is still online for everyone.
        self.assertEqual(self.wait_online(["w1"])["w1"]["state"], "online")

    def test_impersonating_fetches_swallow_nothing(self):
        evil = self.mqtt("w2", "evil-fetch")
        # The made-up worker's inbox, read as the broker lets only user
        # "ghost" (which runs no node, so no presence of it exists).
        ghost = self.mqtt("ghost", "ghost")
        try:
            ghost.subscribe(P + "node/ghost/in")
            # Mosquitto 2.0 grants these subscriptions and checks the ACL as
            # it delivers each message: nothing of w1's inbox may arrive.
            evil.subscribe(P + "node/w1/in")
            evil.subscribe(P + "node/+/in")
            evil.subscribe(P + "#")
            inc = self.presence["w1"].get("inc")
            # The countdown keeps the task waiting at its owner while the
            # forged fetches arrive there.
            call = subprocess.Popen([fx.FLORET_BIN, "call", "sleep", "1", "--timeout", "60",
                                     "--countdown", "2"],
                                    env=dict(self.env, FLORET_BROKER=self.url("alice"),
                                             FLORET_PASSWORD=self.pw["alice"]),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            owner = None
            deadline = time.monotonic() + 15
            while owner is None and time.monotonic() < deadline:
                try:
                    topic, payload, _ = evil.messages.get(timeout=0.5)
                except queue.Empty:
                    continue
                rest = topic[len(P + "node/"):] if topic.startswith(P + "node/") else ""
                if rest.startswith("alice.") and "/" not in rest:
                    owner = rest
            self.assertIsNotNone(owner, "the client's presence was not seen")
            for fid in range(1, 21):
                for who, winc in (("w1", inc), ("ghost", 7)):
                    f = {"v": 1, "kind": "fetch", "from": who, "fid": fid, "credit": 1024}
                    if winc is not None:
                        f["inc"] = winc
                    evil.publish(P + "node/%s/in" % owner, json.dumps(f))
            out, err = call.communicate(timeout=60)
            self.assertEqual((call.returncode, out.strip()), (0, "1"), err + self.logs())
            leaked = [(t, p[:80]) for t, p, _ in evil.drain(0.5) + list(evil.messages.queue)
                      if t.endswith("/in") and t != P + "node/w2/in"]
            self.assertEqual(leaked, [], "messages of other inboxes reached the attacker")
            kinds = [fx.parse_envelope(p).get("kind") for _, p, _ in ghost.drain(0.5)]
            self.assertNotIn("lease", kinds, "the owner leased to a worker without presence")
            self.assertIn("error", kinds, "the owner did not ask the ghost for its presence")
        finally:
            evil.close()
            ghost.close()

    def test_control_only_from_the_operator(self):
        mod = os.path.join(self.dir, "acl_mod.lua")
        with open(mod, "w") as f:
            f.write("local M = {}\nfunction M.hi() return 'hi' end\nreturn M\n")
        obs = self.mqtt("operator", "acl-ctl-observer")
        try:
            obs.subscribe(P + "ctl")
            obs.subscribe(P + "ctl/+")
            obs.drain(0.3)
            # Signed with the trusted key, but sent by w2: the broker drops it.
            # QoS 1 is acknowledged even so, but no node answers.
            r = self.floret("w2", "deploy", mod, "--name", "evilmod", "--key",
                            os.path.join(self.dir, "ops.key"), "--timeout", "2")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("w1 (no answer)", r.stderr)
            r = self.floret("w2", "shutdown", "all", "--key", os.path.join(self.dir, "ops.key"),
                            "--timeout", "2")
            self.assertEqual(r.returncode, 1, r.stderr)
            got = obs.drain(1.0)
            self.assertEqual(got, [], "a control message from w2 arrived")
            r = self.floret("operator", "call", "evilmod.hi", "--timeout", "2")
            self.assertNotEqual(r.returncode, 0, "w2's module was deployed")
            for n, p in self.nodes.items():
                self.assertIsNone(p.poll(), "node %s stopped" % n)
            # The operator's deploy arrives and runs.
            self.ok(self.floret("operator", "deploy", mod, "--name", "opsmod", "--key",
                                os.path.join(self.dir, "ops.key")))
            self.assertTrue(any(t == P + "ctl/opsmod" for t, _, _ in obs.drain(1.0)))
            deadline = time.monotonic() + 20
            while True:
                r = self.floret("operator", "call", "opsmod.hi", "--timeout", "5")
                if r.returncode == 0 or time.monotonic() > deadline:
                    break
            self.ok(r, '"hi"')
        finally:
            obs.close()

    def retained_presence(self, node):
        m = self.mqtt("operator", "acl-retained-reader")
        try:
            m.subscribe(P + "node/" + node)
            return [p for t, p, r in m.drain(0.5) if r and p]
        finally:
            m.close()

    def test_only_the_operator_forgets_nodes(self):
        ops = self.mqtt("operator", "acl-forget-setup")
        try:
            gone = {"v": 1, "kind": "presence", "from": "gone-1", "state": "offline"}
            ops.publish(P + "node/gone-1", json.dumps(gone), retain=True)
        finally:
            ops.close()
        self.assertEqual(len(self.retained_presence("gone-1")), 1)
        self.assertEqual(self.floret("w2", "forget", "gone-1").returncode, 0)
        self.assertEqual(len(self.retained_presence("gone-1")), 1, "w2 cleared a presence")
        self.ok(self.floret("operator", "forget", "gone-1"))
        self.assertEqual(self.retained_presence("gone-1"), [])

    def test_floret_local_refuses_strangers(self):
        env = dict(self.env, TMPDIR=self.dir)
        script = ('port=${FLORET_BROKER##*:}; '
                  'mosquitto_pub -h 127.0.0.1 -p "$port" -t floret/v1/default/work -m x '
                  '&& echo ANONYMOUS-ACCEPTED; '
                  'case "$FLORET_BROKER" in mqtt://operator:*@127.0.0.1:*) ;; '
                  '*) echo "BAD URL $FLORET_BROKER";; esac; '
                  '"$FLORET" call add 4 4')
        r = subprocess.run([fx.FLORET_BIN, "local", "-n", "1", "--", "sh", "-c", script],
                           capture_output=True, text=True, timeout=90,
                           env=dict(env, FLORET=fx.FLORET_BIN))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("ANONYMOUS-ACCEPTED", r.stdout)
        self.assertNotIn("BAD URL", r.stdout)
        self.assertIn("not authorised", r.stderr)
        self.assertEqual(r.stdout.strip().splitlines()[-1], "8", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
