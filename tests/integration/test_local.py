#!/usr/bin/env python3
"""test_local - `floret local`: runs a command inside a private cluster and
leaves no process and no temp dir behind, whether the command ends, the
launcher gets Ctrl-C (SIGINT to its process group) or is SIGKILLed.

Every process the launcher starts inherits a unique marker in its
environment, and the launcher's TMPDIR is private, so leftovers are found
exactly. Depends on floret_fixture."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

import floret_fixture as fx


def marked_pids(marker):
    """Live processes whose environment carries marker (zombies excluded)."""
    pids = []
    needle = ("FLORET_IT_MARK=" + marker).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
            with open("/proc/%s/stat" % d, "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env.split(b"\0") and state != b"Z":
            pids.append(int(d))
    return pids


def describe(pids):
    out = []
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                out.append("%d: %s" % (p, f.read().replace(b"\0", b" ").decode()))
        except OSError:
            pass
    return "\n".join(out)


class LocalTest(unittest.TestCase):
    def setUp(self):
        if not fx.FLORET_BIN or not os.access(fx.FLORET_BIN, os.X_OK):
            raise RuntimeError("FLORET_BIN must name the floret binary")
        self.marker = uuid.uuid4().hex
        self.tmp = tempfile.mkdtemp(prefix="floret-it-local-")
        self.addCleanup(self._cleanup)
        self.env = dict(os.environ)
        self.env.pop("FLORET_BROKER", None)
        self.env["TMPDIR"] = self.tmp
        self.env["FLORET_IT_MARK"] = self.marker

    def _cleanup(self):
        for p in marked_pids(self.marker):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_nothing_left(self):
        # The launcher reaps its children before it exits; allow only for
        # the kernel to finish tearing down what PDEATHSIG killed.
        left = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            left = marked_pids(self.marker)
            if not left:
                break
            time.sleep(0.05)
        self.assertEqual(left, [], "processes left behind:\n" + describe(left))
        self.assertEqual(os.listdir(self.tmp), [], "temp files left behind")

    def launch(self, *args):
        return subprocess.Popen([fx.FLORET_BIN, "local"] + list(args), env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)

    def wait_for_command(self, name, timeout=30):
        """Wait until the launcher started its command (a marked process)."""
        def running():
            for p in marked_pids(self.marker):
                try:
                    with open("/proc/%d/cmdline" % p, "rb") as f:
                        if f.read().split(b"\0")[0].endswith(name.encode()):
                            return True
                except OSError:
                    pass
            return False
        fx.wait_until(running, timeout, what="the command inside floret local")

    def test_call_inside_local_cluster(self):
        r = subprocess.run([fx.FLORET_BIN, "local", "-n", "2", "--", "floret", "call",
                            "add", "4", "4"], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.strip(), "8", r.stdout + r.stderr)
        self.assert_nothing_left()

    def test_c_clients_under_the_acl(self):
        # floret local's broker has floret's ACL: a C client named
        # <user>.NAME gets its results; one whose name fits no ACL pattern
        # (many_calls' default, many-calls) is warned about at start.
        run = lambda *a: subprocess.run(
            [fx.FLORET_BIN, "local", "-n", "1", "--", fx.MANY_CALLS_BIN] + list(a),
            env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=90)
        r = run("--name", "operator.mc", "-n", "20", "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("success 20 ", r.stdout, r.stdout + r.stderr)
        self.assertNotIn("warn:", r.stderr)
        r = run("--name", "bench-1", "-n", "1", "--timeout", "1")
        self.assertIn("node name 'bench-1' is not broker user 'operator' nor "
                      "'operator.NAME'", r.stderr)
        self.assert_nothing_left()

    def test_exit_status_of_the_command_is_returned(self):
        r = subprocess.run([fx.FLORET_BIN, "local", "-n", "1", "--", "sh", "-c",
                            'test -n "$FLORET_BROKER" && exit 7'], env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=90)
        self.assertEqual(r.returncode, 7, r.stdout + r.stderr)
        self.assert_nothing_left()

    def test_ctrl_c_leaves_nothing_behind(self):
        p = self.launch("-n", "2", "--", "sleep", "30")
        try:
            self.wait_for_command("sleep")
            started = time.monotonic()
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=20)
            self.assertLess(time.monotonic() - started, 15)
        finally:
            fx.stop_process(p, sig=signal.SIGKILL, grace=1)
        self.assertNotEqual(p.returncode, 0)
        self.assert_nothing_left()

    def test_sigterm_leaves_nothing_behind(self):
        p = self.launch("-n", "2", "--", "sleep", "30")
        try:
            self.wait_for_command("sleep")
            p.send_signal(signal.SIGTERM)  # the launcher alone, not its group
            p.wait(timeout=20)
        finally:
            fx.stop_process(p, sig=signal.SIGKILL, grace=1)
        self.assertEqual(p.returncode, -signal.SIGTERM)
        self.assert_nothing_left()

    def test_sigkilled_launcher_leaves_no_process(self):
        p = self.launch("-n", "2", "--", "sleep", "30")
        try:
            self.wait_for_command("sleep")
            p.kill()
            p.wait(timeout=10)
        finally:
            fx.stop_process(p, sig=signal.SIGKILL, grace=1)
        left = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = marked_pids(self.marker)
            if not left:
                break
            time.sleep(0.05)
        # Only processes die with a SIGKILLed launcher; its temp dir cannot.
        self.assertEqual(left, [], "orphans:\n" + describe(left))

    def test_unusable_tmpdir_is_explained(self):
        env = dict(self.env)
        env["TMPDIR"] = os.path.join(self.tmp, "does-not-exist")
        r = subprocess.run([fx.FLORET_BIN, "local", "--", "true"], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertTrue(r.stderr.startswith("floret: "), r.stderr)
        self.assertIn("temp dir", r.stderr)
        self.assert_nothing_left()

    def test_usage_errors_exit_2(self):
        for args in (["-n", "0", "--", "true"], ["-n", "x"], ["--bogus"]):
            r = subprocess.run([fx.FLORET_BIN, "local"] + args, env=self.env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("floret local", r.stderr)
        self.assert_nothing_left()


if __name__ == "__main__":
    unittest.main(verbosity=2)
