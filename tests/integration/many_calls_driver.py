"""many_calls_driver - runs the many_calls client (tests/integration/many_calls.c)
as a child process, follows its progress lines and parses its report.
Depends on floret_fixture."""

import os
import queue
import re
import subprocess
import threading
import time

import floret_fixture as fx

TASK_RE = re.compile(r"^task (\d+) id (\d+) state (\S+) worker (\S+) value (\S+)(?: error (.*))?$")


class ManyCalls:
    def __init__(self, cluster, n, task="sleep", args="[0.01]", expect=None,
                 timeout=120, lease_ttl_ms=None, wrap=()):
        if not fx.MANY_CALLS_BIN or not os.access(fx.MANY_CALLS_BIN, os.X_OK):
            raise RuntimeError("MANY_CALLS_BIN must name the many_calls binary")
        argv = [fx.MANY_CALLS_BIN, "--broker", cluster.url, "-n", str(n), "--task", task,
                "--args", args, "--timeout", str(timeout)]
        if expect is not None:
            argv += ["--expect", expect]
        if lease_ttl_ms:
            argv += ["--lease-ttl", str(lease_ttl_ms)]
        # wrap: a prefix such as ip netns exec NS (test_sites.py)
        argv = list(wrap) + argv
        self.n = n
        self.errlog = os.path.join(cluster.workdir, "many_calls.err")
        self.proc = fx.spawn(argv, self.errlog, stdout=subprocess.PIPE)
        self.lines = []
        self.progress = 0
        self._events = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith("progress "):
                self.progress = int(line.split()[1])
            self._events.put(line)
        self._events.put(None)

    def wait_progress(self, k, timeout):
        fx.wait_until(lambda: self.progress >= k or self.proc.poll() is not None,
                      timeout, what="%d results" % k)
        if self.progress < k:
            raise AssertionError("many_calls ended before %d results:\n%s" %
                                 (k, self.stderr()))

    def finish(self, timeout):
        """Wait for the exit; returns (exit code, per-task dicts, summary dict)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fx.stop_process(self.proc, grace=2)
            raise AssertionError("many_calls did not finish within %d s" % timeout)
        self._reader.join(timeout=10)
        fx.stop_process(self.proc)
        tasks = []
        summary = {}
        for line in self.lines:
            m = TASK_RE.match(line)
            if m:
                tasks.append({"index": int(m.group(1)), "id": int(m.group(2)),
                              "state": m.group(3), "worker": m.group(4),
                              "value": m.group(5), "error": m.group(6)})
            elif line.startswith("summary "):
                words = line.split()[1:]
                summary = {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}
        return self.proc.returncode, tasks, summary

    def stderr(self):
        return fx.read_text(self.errlog)


def start_time():
    return time.monotonic()
