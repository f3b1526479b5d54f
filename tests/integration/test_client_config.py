#!/usr/bin/env python3
"""test_client_config - `--config FILE` and $FLORET_CONFIG for the client
commands (call, run, status, events ...): a file of KEY = VALUE lines sets
the connection (broker, password-file, tls-*, log-format, cluster), with
the precedence flag > environment > file > default of `floret node
--config`; a bad file is refused with exit 2 and FILE:LINE and the reason;
`floret local` keeps a user's $FLORET_CONFIG away from the command it runs
on its own cluster. A real Mosquitto and real nodes (one on cluster
'blue'). Depends on floret_fixture."""

import os
import subprocess
import unittest

import floret_fixture as fx


class ClientConfigTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(nodes=("w1",))
        self.cluster.add_node("b1", ("--cluster", "blue"))
        self.dir = self.cluster.workdir
        # No FLORET_* from the caller: the file is the only source.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLORET_")}

    def conf(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def floret(self, *args, env=None, timeout=60):
        return subprocess.run([fx.FLORET_BIN] + list(args), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL,
                              env=env if env is not None else self.env)

    def test_file_sets_broker_and_cluster(self):
        good = self.conf("good.conf", "# the lab's broker\nbroker = %s\n" % self.cluster.url)
        r = self.floret("call", "add", "2", "3", "--config", good)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())
        r = self.floret("run", "--config=" + good, "add(1,1) | mul(5)")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "10"), r.stderr)
        blue = self.conf("blue.conf", "broker = %s\ncluster = blue\n" % self.cluster.url)
        r = self.floret("status", "--json", "--config", blue)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"id":"b1"', r.stdout)
        self.assertNotIn('"id":"w1"', r.stdout)
        # $FLORET_CONFIG when no --config is given.
        env = dict(self.env, FLORET_CONFIG=blue)
        r = self.floret("status", "--json", env=env)
        self.assertIn('"id":"b1"', r.stdout, r.stderr)
        r = self.floret("status", "--json", "--config", good, env=env)
        self.assertIn('"id":"w1"', r.stdout, r.stderr)

    def test_flag_beats_environment_beats_file(self):
        dead = "mqtt://127.0.0.1:%d" % fx.free_port()
        bad = self.conf("dead.conf", "broker = %s\nlog-format = json\n" % dead)
        r = self.floret("call", "add", "1", "1", "--config", bad, "--broker", self.cluster.url)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "2"), r.stderr)
        env = dict(self.env, FLORET_BROKER=self.cluster.url)
        r = self.floret("call", "add", "1", "2", "--config", bad, env=env)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "3"), r.stderr)
        r = self.floret("call", "add", "1", "1", "--config", bad)
        self.assertEqual(r.returncode, 3, r.stderr)
        # The file's log-format applies: the error line is JSON.
        self.assertTrue(r.stderr.strip().splitlines()[-1].startswith("{"), r.stderr)
        self.assertIn(dead, r.stderr)

    def test_bad_files_name_file_line_and_reason(self):
        cases = [("brokr = x\n", "FILE:1: unknown key 'brokr'; did you mean 'broker'?"),
                 ("# c\nbroker = http://x\n", "FILE:2: bad broker URL 'http://x'"),
                 ("cluster = a/b\n", "FILE:1: --cluster 'a/b': expected 1 to 64 letters"),
                 ("log-format = xml\n", "FILE:1: --log-format 'xml': expected text or json"),
                 ("slots = 2\n", "FILE:1: unknown key 'slots'"),
                 ("cluster = a\ncluster = b\n", "FILE:2: cluster is set twice (first on line 1)")]
        for text, want in cases:
            path = self.conf("bad.conf", text)
            for argv in (["call", "add", "1", "1", "--config", path], ["events", "--config", path]):
                r = self.floret(*argv)
                self.assertEqual(r.returncode, 2, (argv, r.stderr))
                self.assertIn(want.replace("FILE", path), r.stderr, argv)
        env = dict(self.env, FLORET_CONFIG="/nonexistent/c.conf")
        r = self.floret("status", env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("/nonexistent/c.conf: cannot read it", r.stderr)
        # --help works whatever the file holds.
        r = self.floret("status", "--help", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--config FILE", r.stdout)

    def test_local_ignores_the_users_config(self):
        bad = self.conf("dead.conf", "password-file = /nonexistent/pw\n")
        env = dict(self.env, FLORET_CONFIG=bad)
        r = self.floret("local", "-n", "1", "--", "floret", "call", "add", "4", "4", env=env)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "8"), r.stderr)


if __name__ == "__main__":
    fx.main()
