#!/usr/bin/env python3
"""test_cli_fixes - defects of the floret command line (issue 18), each
shown by the command that exposed it: `floret local` leaves no temp dir
after kill -9 and puts its own floret first on the command's PATH; a
connection that fails says how (not "MQTT protocol error"); a task whose
time limit ran out is reported as such, not as "still running"; status
takes --timeout SECONDS like every other command (--wait MS still works,
with a note); node, local and mandelbrot suggest the option meant; run's
help says how --async picks the node that keeps the workflow.
Real floret processes, real Mosquitto brokers on loopback ports.
Depends on floret_fixture (FLORET_BIN) and the standard library."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

import floret_fixture as fx


def floret(*args, env=None, timeout=60):
    return subprocess.run([fx.FLORET_BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env)


class LocalTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="floret-fixes-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLORET_")}
        self.env["TMPDIR"] = self.tmp

    def test_command_inside_finds_this_floret(self):
        # A PATH without floret on it: only local's own directory can help.
        self.env["PATH"] = "/usr/bin:/bin"
        r = floret("local", "--nodes", "1", "--", "sh", "-c", "floret call add 4 4",
                   env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "8")

    def test_kill_9_leaves_no_temp_dir(self):
        p = subprocess.Popen([fx.FLORET_BIN, "local", "-n", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                             env=self.env, text=True)
        try:
            line = p.stdout.readline()
            self.assertTrue(line.startswith("FLORET_BROKER="), line)
            self.assertEqual(len(os.listdir(self.tmp)), 1, os.listdir(self.tmp))
            p.kill()
            p.wait(10)
            p.stdout.close()
            fx.wait_until(lambda: not os.listdir(self.tmp), 10,
                          what="the temp dir to go after kill -9")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_long_options_and_suggestions(self):
        r = floret("local", "--nodse", "2", env=self.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option '--nodse'; did you mean --nodes?", r.stderr)
        r = floret("local", "--slots=0", env=self.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--slots expects a number from 1 to 1024, got '0'", r.stderr)
        help_text = floret("local", "--help").stdout
        for opt in ("-n, --nodes N", "-s, --slots N", "-v, --verbose", "--dashboard-listen"):
            self.assertIn(opt, help_text)


class ConnectTest(unittest.TestCase):
    def listener(self, answer=None):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        self.addCleanup(srv.close)
        if answer is not None:
            srv.settimeout(20)

            def serve():
                # Every attempt gets the same answer (the client retries).
                while True:
                    try:
                        c, _ = srv.accept()
                        c.recv(1024)
                        c.sendall(answer)
                        c.close()
                    except OSError:
                        return
            threading.Thread(target=serve, daemon=True).start()
        return "mqtt://127.0.0.1:%d" % srv.getsockname()[1]

    def test_not_mqtt_there(self):
        # What a web server or an HTTP proxy on that port answers.
        url = self.listener(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n"
                            b"content-length: 0\r\ndate: Wed, 02 Dec 2026 17:05:49 GMT\r\n"
                            b"server: test\r\n\r\n")
        r = floret("call", "add", "1", "2", "--broker", url)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertNotIn("MQTT protocol error", r.stderr)
        self.assertIn("answered there, but not in MQTT", r.stderr)

    def test_accepted_but_silent(self):
        url = self.listener()
        r = floret("status", "--broker", url)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("timed out: the TCP connection was accepted but no MQTT answer came",
                      r.stderr)
        r = floret("call", "add", "1", "2", "--broker", url.replace("mqtt:", "mqtts:"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("accepted but neither the TLS handshake nor MQTT was answered",
                      r.stderr)


class TimeLimitTest(fx.ClusterTest):
    def test_cancelled_is_not_still_running(self):
        c = self.start_cluster(nodes=("w1",), node_args=("--slots", "1", "--pool", "process"))
        # The time limit runs out as the wait does: the worker kills the
        # task while the client gives up; it must report the cancellation.
        r = c.floret("call", "sleep", "10", "--time-limit", "2", "--timeout", "2")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("still running", r.stderr)
        self.assertIn("TimeLimitExceeded", r.stderr, self.logs())


class StatusTimeoutTest(fx.ClusterTest):
    def test_timeout_seconds_and_old_wait(self):
        c = self.start_cluster(nodes=("w1",))
        r = c.floret("status", "--json", "--timeout", "0.8")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"id":"w1"', r.stdout)
        self.assertEqual(r.stderr, "")
        r = c.floret("status", "--json", "--wait", "800")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"id":"w1"', r.stdout)
        self.assertIn("--wait MS is deprecated; use --timeout SECONDS", r.stderr)
        r = c.floret("status", "--timeout", "700")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--timeout '700': expected seconds from 0 to 600", r.stderr)


class QuietTest(fx.ClusterTest):
    def test_wordcount_takes_q_as_node_does(self):
        c = self.start_cluster(nodes=("w1",))
        path = os.path.join(c.workdir, "words.txt")
        with open(path, "w") as f:
            f.write("a b a\n")
        long = c.floret("wordcount", "--quiet", path)
        short = c.floret("wordcount", "-q", path)
        self.assertEqual(long.returncode, 0, long.stderr)
        self.assertEqual((short.returncode, short.stdout), (0, long.stdout), short.stderr)
        self.assertIn("2  a", short.stdout)


class SuggestionTest(unittest.TestCase):
    def test_node_and_mandelbrot_suggest(self):
        for argv, want in ((["node", "--slost", "2"], "did you mean --slots?"),
                           (["node", "--stat-dir=x"], "did you mean --state-dir?"),
                           (["mandelbrot", "--tiel", "3"], "did you mean --tile?"),
                           # --config, handled before the command's parser,
                           # is in every client's suggestions too.
                           (["call", "--confg", "x"], "did you mean --config?"),
                           (["status", "--confi=x"], "did you mean --config?")):
            r = floret(*argv)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("unknown option '%s'; %s" % (argv[1], want), r.stderr)


class RunHelpTest(unittest.TestCase):
    def test_async_owner_choice(self):
        text = " ".join(floret("run", "--help").stdout.split())
        self.assertNotIn("the first online node with slots", text)
        self.assertIn("the least loaded such node whose presence says it keeps workflows",
                      text)


if __name__ == "__main__":
    fx.main()
