#!/usr/bin/env python3
"""test_tls - floret over Mosquitto's TLS listener with certificates this
test makes with openssl: a private CA given with --tls-ca (or
$FLORET_TLS_CA_FILE) works end to end (node and `floret call`); a host name
the certificate is not for, a foreign CA and the system's CAs are refused
with a one-line reason naming the TLS check; a broker that requires client
certificates serves a node and a client that have one (--tls-cert/--tls-key
or the environment) and refuses one without, for `floret call` and for the
control publisher (`floret undeploy`) alike. Bad combinations of options
are usage errors. Depends on floret_fixture and openssl."""

import os
import shutil
import subprocess
import tempfile
import unittest

import floret_fixture as fx


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr))


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", "2",
            "-subj", "/CN=" + name, cwd=d)


def make_leaf(d, name, ca, san):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext",
            cwd=d)


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not fx.FLORET_BIN or not os.access(fx.FLORET_BIN, os.X_OK):
            raise RuntimeError("FLORET_BIN must name the floret binary")
        if not shutil.which("openssl"):
            raise RuntimeError("openssl not found; install the Debian package 'openssl'")
        cls.dir = tempfile.mkdtemp(prefix="floret-it-tls-")
        d = cls.dir
        make_ca(d, "ca")
        make_ca(d, "foreign")
        make_leaf(d, "server", "ca", "DNS:localhost")
        make_leaf(d, "client", "ca", "DNS:client")
        tls = ["cafile " + cls.p("ca.crt"), "certfile " + cls.p("server.crt"),
               "keyfile " + cls.p("server.key")]
        os.makedirs(os.path.join(d, "a"))
        os.makedirs(os.path.join(d, "b"))
        cls.tls = fx.Broker(os.path.join(d, "a"), extra_conf=tls).start()
        cls.mtls = fx.Broker(os.path.join(d, "b"),
                             extra_conf=tls + ["require_certificate true"]).start()
        cls.env = dict(os.environ)
        for k in list(cls.env):
            if k.startswith("FLORET_"):
                del cls.env[k]
        # One worker on each broker: the first trusts the CA through the
        # environment, the second shows its client certificate.
        env_a = dict(cls.env, FLORET_TLS_CA_FILE=cls.p("ca.crt"))
        cls.nodes = [
            fx.spawn([fx.FLORET_BIN, "node", "--broker", cls.url(cls.tls), "--name", "tls-w1",
                      "--slots", "1"], os.path.join(d, "w1.log"), env=env_a),
            fx.spawn([fx.FLORET_BIN, "node", "--broker", cls.url(cls.mtls), "--name", "tls-w2",
                      "--slots", "1", "--tls-ca", cls.p("ca.crt"),
                      "--tls-cert", cls.p("client.crt"), "--tls-key", cls.p("client.key")],
                     os.path.join(d, "w2.log"), env=cls.env),
        ]

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            fx.stop_process(n)
        cls.tls.stop()
        cls.mtls.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def p(cls, name):
        return os.path.join(cls.dir, name)

    @staticmethod
    def url(broker, host="localhost"):
        return "mqtts://%s:%d" % (host, broker.port)

    def floret(self, *args, env=None):
        return subprocess.run([fx.FLORET_BIN] + list(args), capture_output=True, text=True,
                              timeout=60, env=env or self.env)

    def logs(self):
        return "".join("\n--- %s\n%s" % (n, fx.read_text(os.path.join(self.dir, n)))
                       for n in ("w1.log", "w2.log"))

    def assert_refused(self, r, *reasons):
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        self.assertIn("TLS handshake failed", line, r.stderr)
        for why in reasons:
            self.assertIn(why, line, r.stderr)

    def test_private_ca_works(self):
        r = self.floret("call", "add", "2", "3", "--timeout", "30", "--broker", self.url(self.tls),
                        "--tls-ca", self.p("ca.crt"))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())

    def test_wrong_host_name_refused(self):
        r = self.floret("call", "add", "2", "3", "--broker", self.url(self.tls, "127.0.0.1"),
                        "--tls-ca", self.p("ca.crt"))
        self.assert_refused(r, "not for host name '127.0.0.1'")

    def test_foreign_ca_refused(self):
        r = self.floret("call", "add", "2", "3", "--broker", self.url(self.tls),
                        "--tls-ca", self.p("foreign.crt"))
        self.assert_refused(r, "certificate was refused")
        # The system's CAs do not know the private CA either.
        r = self.floret("status", "--broker", self.url(self.tls))
        self.assert_refused(r, "certificate was refused")

    def test_mutual_tls(self):
        ca = ["--tls-ca", self.p("ca.crt")]
        cert = ["--tls-cert", self.p("client.crt"), "--tls-key", self.p("client.key")]
        r = self.floret("call", "add", "4", "4", "--timeout", "30", "--broker",
                        self.url(self.mtls), *(ca + cert))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "8"), r.stderr + self.logs())
        env = dict(self.env, FLORET_TLS_CA_FILE=self.p("ca.crt"),
                   FLORET_TLS_CERT_FILE=self.p("client.crt"),
                   FLORET_TLS_KEY_FILE=self.p("client.key"))
        r = self.floret("call", "add", "1", "1", "--timeout", "30", "--broker",
                        self.url(self.mtls), env=env)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "2"), r.stderr + self.logs())
        r = self.floret("call", "add", "4", "4", "--broker", self.url(self.mtls), *ca)
        self.assert_refused(r, "certificate")
        # The control publisher connects the same way: the nodes answer (they
        # refuse an unsigned undeploy, so it exits 1, not 3).
        r = self.floret("undeploy", "nothing", "--unsigned", "--broker", self.url(self.mtls),
                        *(ca + cert))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(": refused: it is not signed", r.stdout)
        r = self.floret("undeploy", "nothing", "--unsigned", "--broker", self.url(self.mtls),
                        *ca)
        self.assert_refused(r, "certificate")

    def test_bad_combinations_are_usage_errors(self):
        cases = [
            (["--broker", "mqtt://localhost:1", "--tls-ca", self.p("ca.crt")], "does not use TLS"),
            (["--broker", self.url(self.tls), "--tls-cert", self.p("client.crt")], "needs its key"),
            (["--broker", self.url(self.tls), "--tls-ca", self.p("missing.crt")], "missing.crt"),
            (["--broker", self.url(self.tls), "--password-file", self.p("ca.crt")],
             "needs a user name"),
        ]
        for args, why in cases:
            r = self.floret("status", *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(why, r.stderr, args)


if __name__ == "__main__":
    unittest.main(verbosity=2)
