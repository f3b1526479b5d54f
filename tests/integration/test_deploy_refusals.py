#!/usr/bin/env python3
"""test_deploy_refusals - signed control through a real broker: a node that
trusts a key refuses unsigned deploys, deploys signed by another key,
deploys whose source was altered after signing, replays of an older
deploy, malformed control messages and unsigned shutdowns, and logs why;
a node that trusts no key refuses every deploy; only a node started with
--insecure-allow-unsigned takes unsigned ones; a signed shutdown stops
exactly the node it names. Depends on floret_fixture and deploy_fixture."""

import json

import deploy_fixture as dfx
import floret_fixture as fx

MOD = "return {f = function() return %d end}\n"


class RefusalTest(dfx.DeployTest):
    def setUp(self):
        self.c = self.start_trusting(("w1", "w2"))
        self.watch = fx.Mqtt(self.c.broker.port, "ctl-watch")
        self.addCleanup(self.watch.close)
        self.watch.subscribe(fx.PREFIX + "ctl/#")

    def captured(self, module, kind):
        """The next control payload of that kind seen on ctl/<module>."""
        def match(t, p, r):
            return (t == fx.PREFIX + "ctl/" + module and p and
                    fx.parse_envelope(p).get("kind") == kind)
        return self.watch.expect(match, 10, "a %s of %s" % (kind, module))[1]

    def deploy_version(self, n, *args):
        path = self.write_module("m", MOD % n)
        return self.version_of(self.deploy(path, *args))

    def test_unsigned_and_foreign_key_refused(self):
        path = self.write_module("m", MOD % 1)
        r = self.deploy(path, "--unsigned", ok=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # nobody accepted
        for n in ("w1", "w2"):
            self.assertIn(n + ": refused: it is not signed", r.stdout)
            self.wait_log(n, "refused deploy of m: it is not signed")
        other_key, _ = self.keygen("intruder")
        r = self.deploy(path, "--key", other_key, ok=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for n in ("w1", "w2"):
            self.assertIn("which this node does not trust", r.stdout)
            self.wait_log(n, "which this node does not trust")
        self.assert_unknown("m.f")
        self.assertTrue(self.c.nodes["w1"].alive() and self.c.nodes["w2"].alive())

    def test_altered_source_refused(self):
        self.deploy_version(1, "--key", self.key)
        good = self.captured("m", "deploy")
        dfx.wait_modules(self.c.broker.port, ["w1", "w2"], {"m@" + json.loads(good.split(b"\0")[0])["version"]})
        head, src = good.split(b"\0", 1)
        evil = head + b"\0" + src.replace(b"return 1", b"return 9")
        self.watch.publish(fx.PREFIX + "ctl/m", evil, retain=True)
        for n in ("w1", "w2"):
            self.wait_log(n, "refused deploy of m: its signature does not verify")
        self.assert_call("1", "m.f")
        # The same signed message moved to another module's topic.
        self.watch.publish(fx.PREFIX + "ctl/other", good, retain=True)
        self.wait_log("w1", "module: differs from the module in the topic")

    def test_replayed_deploy_refused(self):
        v1 = self.deploy_version(1, "--key", self.key)
        old = self.captured("m", "deploy")
        dfx.wait_modules(self.c.broker.port, ["w1", "w2"], {"m@" + v1})
        v2 = self.deploy_version(2, "--key", self.key)
        dfx.wait_modules(self.c.broker.port, ["w1", "w2"], {"m@" + v2})
        self.watch.publish(fx.PREFIX + "ctl/m", old, retain=True)
        for n in ("w1", "w2"):
            self.wait_log(n, "refused deploy of m: replayed or stale")
        for n in ("w1", "w2"):
            self.assert_call("2", "m.f", "--route", n)
        # A replayed undeploy after a newer deploy is refused the same way.
        r = self.cluster.floret("undeploy", "m", "--key", self.key)
        self.assertEqual(r.returncode, 0, r.stderr)
        tomb = self.captured("m", "undeploy")
        dfx.wait_modules(self.c.broker.port, ["w1", "w2"], set())
        v3 = self.deploy_version(3, "--key", self.key)
        dfx.wait_modules(self.c.broker.port, ["w1", "w2"], {"m@" + v3})
        self.watch.publish(fx.PREFIX + "ctl/m", tomb, retain=True)
        self.wait_log("w1", "refused undeploy of m: replayed or stale")
        self.assert_call("3", "m.f")

    def test_malformed_control_messages(self):
        bad = [
            (b"not json", "payload: not a JSON object"),
            (b'{"v":1,"kind":"deploy","module":"m","ts":1}', "version: missing"),
            (b'{"v":1,"kind":"explode","module":"m","ts":1}', "kind: expected deploy"),
            (b'{"v":1,"kind":"undeploy","module":"m","ts":-5}', "ts: expected milliseconds"),
            (b'{"v":1,"kind":"undeploy","module":"m","ts":5,"key":"ab"}', "sig: missing"),
            (b'{"v":1,"kind":"deploy","module":"m","version":"00aa00aa00aa","ts":5,"bin":99}\0x',
             "bin: expected the length"),
        ]
        for payload, why in bad:
            self.watch.publish(fx.PREFIX + "ctl/m", payload)
            self.wait_log("w1", why)
        self.watch.publish(fx.PREFIX + "ctl/m", b"", retain=True)  # clearing is harmless
        self.deploy_version(4, "--key", self.key)
        self.assert_call("4", "m.f")

    def test_shutdown_signed_only_and_targeted(self):
        r = self.cluster.floret("shutdown", "w1", "--unsigned")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("w1: refused: it is not signed", r.stdout)
        self.wait_log("w1", "refused shutdown of w1: it is not signed")
        self.assertTrue(self.c.nodes["w1"].alive())
        r = self.cluster.floret("shutdown", "w1", "--key", self.key)
        self.assertEqual((r.returncode, r.stdout.splitlines()[-1]), (0, "w1: accepted"),
                         r.stdout + r.stderr)
        fx.wait_until(lambda: not self.c.nodes["w1"].alive(), 15, what="w1 to stop")
        self.assertEqual(self.c.nodes["w1"].proc.returncode, 0)
        self.assertIn("shutdown requested by a signed control message",
                      self.c.nodes["w1"].log_text())
        self.assertTrue(self.c.nodes["w2"].alive())
        self.assert_call("3", "add", "1", "2")


class TrustPolicyTest(dfx.DeployTest):
    def test_no_trust_list_refuses_everything(self):
        c = self.start_cluster(("plain",), ["--slots", "1"])
        self.key, _ = self.keygen("k")
        path = self.write_module("m", MOD % 5)
        self.assertEqual(self.deploy(path, "--key", self.key, ok=False).returncode, 1)
        self.wait_log("plain", "it is signed by key")
        self.assertEqual(self.deploy(path, "--unsigned", ok=False).returncode, 1)
        self.wait_log("plain", "(it trusts none: start it with --trust FILE.pub)")
        self.assert_unknown("m.f")
        c.add_node("open", ["--slots", "1", "--insecure-allow-unsigned"])
        fx.wait_online(c.broker.port, ["open"])
        self.wait_log("open", "deployed module m version")
        self.assertIn("UNSIGNED", self.cluster.nodes["open"].log_text())
        self.assert_call("5", "m.f", "--route", "open")

    def test_bad_trust_file_is_a_clear_error(self):
        self.start_cluster((), ())
        bogus = self.write_module("notakey", "hello")
        r = self.cluster.floret("node", "--trust", bogus, "--name", "x", timeout=20)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a floret key file", r.stderr)
        r = self.cluster.floret("node", "--trust", "/nonexistent.pub", timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent.pub: No such file", r.stderr)


if __name__ == "__main__":
    fx.main()
