#!/usr/bin/env python3
"""test_config - `floret node --config FILE`: a file of KEY = VALUE lines
(the long options without their dashes) sets a node up; the precedence is
flag > environment > file > default; every bad file is refused with exit
2 and FILE:LINE and the reason (unknown key with a suggestion, bad value
with the option's own reason, a key set twice, a line without '=', a
boolean that is not one, a key without value, a file that cannot be read
or is not text). Depends on floret_fixture (mosquitto, real processes)."""

import os
import subprocess
import unittest

import floret_fixture as fx


class ConfigTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(nodes=())
        self.dir = self.cluster.workdir

    def conf(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        return path

    def refused(self, text, *want):
        path = self.conf("bad.conf", text)
        r = subprocess.run([fx.FLORET_BIN, "node", "--config", path], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL,
                           env=self.cluster.env())
        self.assertEqual(r.returncode, 2, r.stderr)
        line = r.stderr.splitlines()[0] if r.stderr else ""
        for w in want:
            self.assertIn(w.replace("FILE", path), line, r.stderr)

    def test_bad_files_name_file_line_and_reason(self):
        self.refused("slots = 2\nslot = 3\n", "FILE:2: unknown key 'slot'; did you mean 'slots'?")
        self.refused("frobnicate = 1\n", "FILE:1: unknown key 'frobnicate'")
        self.refused("# a comment\n\nslots = lots\n",
                     "FILE:3: --slots 'lots': expected a number from 0 to 4096")
        self.refused("slots = 2\nname = a\nslots = 3\n", "FILE:3: slots is set twice (first on line 1)")
        self.refused("slots 2\n", "FILE:1: expected KEY = VALUE, got 'slots 2'")
        self.refused("events = maybe\n", "FILE:1: events = 'maybe': expected true or false")
        self.refused("name =\n", "FILE:1: name has no value")
        self.refused("= 3\n", "FILE:1: a value without a key")
        self.refused("tag = novalue\n", "FILE:1: --tag 'novalue': expected KEY=VALUE")
        self.refused("task-nice = 20\n", "FILE:1: --task-nice '20': expected a number from 0 to 19")
        self.refused("slots = 1\nlog-format = xml\n", "FILE:2: --log-format 'xml': expected text or json")
        self.refused("broker = http://x\n", "FILE:1: ", "http://x")
        self.refused(b"slots = 2\n\0\n", "has a NUL byte")
        r = subprocess.run([fx.FLORET_BIN, "node", "--config", "/nonexistent/x.conf"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--config /nonexistent/x.conf: cannot read it: No such file", r.stderr)

    def presence(self, name):
        return fx.wait_online(self.cluster.broker.port, [name])[name]

    def start(self, conf, *flags, env=None):
        log = os.path.join(self.dir, "node.log")
        p = fx.spawn([fx.FLORET_BIN, "node", "--config", conf] + list(flags), log,
                     env=env or dict(os.environ, FLORET_BROKER=""))
        self.addCleanup(fx.stop_process, p)
        return p, log

    def test_a_node_from_its_file(self):
        self.refused("# pi-1\nname = pi-1\nslots = 3\ntag = zone=a\ntag_ = x\n",
                     "FILE:5: unknown key 'tag-'")
        conf = self.conf("pi.conf", "# pi-1\nbroker = %s\nname = pi-1\nslots = 3\n"
                         "tag = zone=a\ntag = gpu=1\n  events = true  \n" % self.cluster.url)
        p, log = self.start(conf)
        pres = self.presence("pi-1")
        self.assertEqual(pres["slots"], 3, pres)
        self.assertLessEqual({"zone=a", "gpu=1"}, set(pres.get("tags", [])), pres)
        r = self.cluster.floret("call", "add", "2", "3", "--route", "zone=a", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + fx.read_text(log))

    def test_flag_beats_environment_beats_file(self):
        # The file's broker is wrong, the environment's right; the file's
        # slots lose to the flag; its name and tags are taken.
        conf = self.conf("n.conf", "broker = mqtt://127.0.0.1:%d\nname = from-file\n"
                         "slots = 3\ntag = zone=b\n" % fx.free_port())
        p, log = self.start(conf, "--slots", "1", env=dict(os.environ, FLORET_BROKER=self.cluster.url))
        pres = self.presence("from-file")
        self.assertEqual(pres["slots"], 1, pres)
        self.assertIn("zone=b", pres.get("tags", []), pres)
        # A flag given for a repeatable key replaces the file's values.
        p2, log2 = self.start(self.conf("m.conf", "name = tagged\ntag = zone=file\n"),
                              "--tag", "zone=flag",
                              env=dict(os.environ, FLORET_BROKER=self.cluster.url))
        pres = self.presence("tagged")
        self.assertIn("zone=flag", pres.get("tags", []), pres)
        self.assertNotIn("zone=file", pres.get("tags", []), pres)


if __name__ == "__main__":
    fx.main()
