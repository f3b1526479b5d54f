#!/usr/bin/env python3
"""test_progress - `floret run`'s progress line (docs/watching.md,
"Progress") against a real broker and real nodes: on a terminal (a pty from
Python's pty module) stderr shows the line redrawn with done/total, running,
failed, rate and ETA, ending at total/total with the elapsed time, while
stdout keeps only the result; on a pipe nothing is drawn unless --progress,
and --no-progress keeps a terminal clean; a failing member shows in the
failed count. Depends on floret_fixture."""

import json
import os
import pty
import re
import select
import subprocess
import time

import floret_fixture as fx

FRAME = re.compile(r"\[([#.]{20})\] (\d+)/(\d+) tasks +(\d+)%  (\d+) running  "
                   r"(\d+) failed  ([0-9.]+)/s  (ETA [0-9:-]+|in [0-9:]+)$")


def run_on_pty(argv, env, timeout=60):
    """Run argv with stderr on a new pty and stdout on a pipe; returns
    (returncode, stdout bytes, the bytes the terminal received)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    fx._live_processes.append(p)
    term = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if not r:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            term += chunk
        out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()
        fx._live_processes.remove(p)
    return p.returncode, out, term


def frames(term):
    """The progress lines drawn, in order, parsed."""
    text = term.decode("utf-8", "replace").replace("\x1b[K", "")
    out = []
    for part in re.split(r"[\r\n]+", text):
        m = FRAME.match(part.strip())
        if m:
            out.append({"done": int(m.group(2)), "total": int(m.group(3)),
                        "pct": int(m.group(4)), "running": int(m.group(5)),
                        "failed": int(m.group(6)), "rate": float(m.group(7)),
                        "when": m.group(8)})
    return out


class ProgressTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(("p1", "p2"), ["--slots", "2"])

    def argv(self, *args):
        return [fx.FLORET_BIN, "run", "--timeout", "60"] + list(args)

    def test_terminal_gets_a_progress_line(self):
        # 24 tasks of 0.25 s on 4 slots: about 1.5 s, several redraws.
        expr = "sleep.map([%s])" % ",".join(["0.25"] * 24)
        rc, out, term = run_on_pty(self.argv(expr), self.cluster.env())
        self.assertEqual(rc, 0, term + self.logs().encode())
        self.assertEqual(json.loads(out), [0.25] * 24)
        self.assertNotIn(b"tasks", out)  # stdout holds the result alone
        fs = frames(term)
        self.assertGreaterEqual(len(fs), 3, term)
        self.assertTrue(all(f["total"] == 24 for f in fs), fs)
        done = [f["done"] for f in fs]
        self.assertEqual(done, sorted(done), "done never goes back: %r" % done)
        mid = [f for f in fs[:-1] if 0 < f["done"] < 24]
        self.assertTrue(mid, "no line drawn while running: %r" % fs)
        self.assertTrue(all(f["when"].startswith("ETA ") for f in fs[:-1]), fs)
        self.assertTrue(any(f["running"] > 0 for f in mid), fs)
        self.assertTrue(all(f["rate"] > 0 for f in mid), fs)
        last = fs[-1]
        self.assertEqual((last["done"], last["pct"], last["failed"], last["running"]),
                         (24, 100, 0, 0), last)
        self.assertTrue(last["when"].startswith("in "), last)
        self.assertTrue(term.rstrip(b"\r\n").endswith(b"\x1b[K"), term[-200:])

    def test_pipe_gets_none(self):
        expr = "sleep.map([%s])" % ",".join(["0.25"] * 12)
        r = subprocess.run(self.argv(expr), env=self.cluster.env(),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs().encode())
        self.assertEqual(json.loads(r.stdout), [0.25] * 12)
        self.assertEqual(r.stderr, b"", "a pipe got: %r" % r.stderr)

    def test_progress_forces_and_no_progress_silences(self):
        r = subprocess.run(self.argv("--progress", "add.starmap([[1,1],[2,2],[3,3]])"),
                           env=self.cluster.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs().encode())
        self.assertEqual(json.loads(r.stdout), [2, 4, 6])
        fs = frames(r.stderr)
        self.assertTrue(fs, r.stderr)
        self.assertEqual((fs[-1]["done"], fs[-1]["total"]), (3, 3), fs)
        expr = "sleep.map([%s])" % ",".join(["0.25"] * 12)
        rc, out, term = run_on_pty(self.argv("--no-progress", expr), self.cluster.env())
        self.assertEqual(rc, 0, term)
        self.assertEqual(term, b"", "--no-progress drew: %r" % term)

    def test_a_quick_run_leaves_no_trace(self):
        rc, out, term = run_on_pty(self.argv("add(2,3)"), self.cluster.env())
        self.assertEqual(rc, 0, term)
        self.assertEqual(out.strip(), b"5")
        self.assertEqual(term, b"", term)

    def test_failures_are_counted(self):
        rc, out, term = run_on_pty(self.argv("[fail(), sleep(1), sleep(1)]"),
                                   self.cluster.env())
        self.assertEqual(rc, 1, term)
        fs = frames(term)
        self.assertTrue(fs, term)
        self.assertEqual((fs[-1]["done"], fs[-1]["total"], fs[-1]["failed"]), (3, 3, 1), fs)
        self.assertIn(b"error: TaskError", term)
        # The error starts a line of its own, after the last progress line.
        self.assertRegex(term.decode(), r"in [0-9:]+\x1b\[K\r?\nerror: TaskError")


if __name__ == "__main__":
    fx.main()
