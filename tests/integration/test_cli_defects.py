#!/usr/bin/env python3
"""test_cli_defects - the floret command line agrees with itself (issue 18):
`floret help CMD` is `floret CMD --help`; bad --timeout values are refused
with the precise reason; help lists only options the parser accepts; a
failed connection always says why.
Plain subprocesses of the real floret binary and a silent loopback
listener; no broker needed.
Depends on floret_fixture (FLORET_BIN) and the standard library."""

import socket
import subprocess
import unittest

import floret_fixture as fx


def floret(*args):
    return subprocess.run([fx.FLORET_BIN] + list(args), capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


class HelpTest(unittest.TestCase):
    def test_help_cmd_is_cmd_help(self):
        for cmd in ("call", "node", "shutdown", "broker-config"):
            a, b = floret("help", cmd), floret(cmd, "--help")
            self.assertEqual(a.returncode, 0, a.stderr)
            self.assertTrue(a.stdout.startswith("usage: floret " + cmd + " "), a.stdout[:80])
            self.assertEqual(a.stdout, b.stdout)

    def test_help_unknown_cmd(self):
        r = floret("help", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'nope'", r.stderr)
        self.assertEqual(r.stdout, "")


class HelpMatchesParserTest(unittest.TestCase):
    def test_name_only_where_accepted(self):
        self.assertIn("--name MODULE", floret("deploy", "--help").stdout)
        for cmd in ("shutdown", "undeploy"):
            self.assertNotIn("--name", floret(cmd, "--help").stdout, cmd)
            r = floret(cmd, "x", "--name", "y", "--unsigned")
            self.assertEqual(r.returncode, 2)
            self.assertIn("unknown option '--name'", r.stderr)


class UnknownOptionTest(unittest.TestCase):
    def test_one_wording_and_a_suggestion(self):
        cases = [(["status", "--jsn"], "unknown option '--jsn'; did you mean --json?"),
                 (["events", "--coutn=3"], "unknown option '--coutn=3'; did you mean --count?"),
                 (["keygen", "--ot", "x"], "unknown option '--ot'; did you mean --out?"),
                 (["dashboard", "--zzzzzz"], "unknown option '--zzzzzz'\n"),
                 (["node", "--bogus"], "unknown option '--bogus'\n"),
                 (["broker-config", "--forse"], "unknown option '--forse'; did you mean --force?"),
                 (["status", "foo"], "unexpected argument 'foo'"),
                 (["call", "add", "--retrys", "2"], "'--retrys'; did you mean --retries?"),
                 (["run", "--asnc", "x"], "'--asnc'; did you mean --async?"),
                 (["result", "--jsn"], "'--jsn'; did you mean --json?"),
                 (["revoke", "--terminat"], "'--terminat'; did you mean --terminate?"),
                 (["forget", "--forc"], "'--forc'; did you mean --force?")]
        for argv, want in cases:
            r = floret(*argv)
            self.assertEqual(r.returncode, 2, (argv, r.stderr))
            self.assertIn(want, r.stderr, argv)
            self.assertNotIn("unknown argument", r.stderr)


class TimeoutTest(unittest.TestCase):
    def test_bad_timeouts_say_what_is_wrong(self):
        cases = [("1e9", "at most 4233600 seconds (49 days)"),
                 ("inf", "at most 4233600 seconds"),
                 ("abc", "not a number of seconds"),
                 ("nan", "not a number of seconds"),
                 ("", "not a number of seconds"),
                 ("0", "must be above 0 seconds"),
                 ("-3", "must be above 0 seconds")]
        for cmd in (["call", "add", "1", "2"], ["run", "x"], ["result", "me:1"],
                    ["events"], ["revoke", "me:1"], ["mandelbrot"]):
            for value, want in cases:
                r = floret(*(cmd + ["--timeout", value]))
                self.assertEqual(r.returncode, 2, (cmd, value, r.stderr))
                self.assertIn("--timeout '%s': %s" % (value, want), r.stderr, cmd)


class ConnectReasonTest(unittest.TestCase):
    def test_silent_peer_still_gets_a_reason(self):
        # A loopback listener that takes the connection and never answers
        # the TLS handshake: no attempt reports a failure, start times out.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        self.addCleanup(srv.close)
        url = "mqtts://127.0.0.1:%d" % srv.getsockname()[1]
        for cmd in (["status"], ["call", "add", "1", "2"]):
            r = floret(*(cmd + ["--broker", url]))
            self.assertEqual(r.returncode, 3, r.stderr)
            line = r.stderr.strip().splitlines()[-1]
            self.assertTrue(line.startswith("error: cannot connect to broker %s: " % url), line)
            self.assertTrue(line.split(url + ": ", 1)[1].strip(), "empty reason: %r" % line)


if __name__ == "__main__":
    unittest.main()
