#!/usr/bin/env python3
"""test_threads - a node's task threads run nicer than the rest of it
(`floret node --task-nice N`, default 10; docs/architecture.md, "Threads"),
read from /proc/PID/task/*/stat of real nodes; --task-nice 0 leaves them as
they were, a value out of range is refused and names the option, and a
niced node still runs its tasks. Depends on floret_fixture."""

import os

import floret_fixture as fx


def thread_nices(pid):
    """{tid: niceness} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = int(fields[16])  # field 19 of stat(5)
    return out


def nices_when(pid, want_threads, base, want_niced):
    """thread_nices(pid) once it has want_threads threads, want_niced of
    them away from base: a task thread sets its own niceness once it runs,
    a moment after it exists. After 10 s, the last reading as it is."""
    box = {}

    def ready():
        box["n"] = thread_nices(pid)
        niced = sum(1 for n in box["n"].values() if n != base)
        return len(box["n"]) >= want_threads and niced == want_niced

    try:
        fx.wait_until(ready, 10.0, what="%d threads in node %d" % (want_threads, pid))
    except AssertionError:
        pass  # the caller's assertion says what was seen
    return box["n"]


class ThreadsTest(fx.ClusterTest):
    def niced_threads(self, name, base, want_niced):
        pid = self.cluster.nodes[name].proc.pid
        # the main thread, the event loop and one thread per slot (2)
        nices = nices_when(pid, 4, base, want_niced)
        self.assertGreaterEqual(len(nices), 4, nices)
        self.assertEqual(nices[pid], base, nices)
        return sorted(n - base for tid, n in nices.items() if n != base)

    def test_task_threads_run_nicer(self):
        base = os.nice(0)
        self.start_cluster(("n1",), ["--slots", "2"])
        self.assertEqual(self.niced_threads("n1", base, 2), [min(10, 19 - base)] * 2,
                         self.logs())
        r = self.cluster.floret("call", "add", "2", "3", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"), r.stderr + self.logs())

    def test_task_nice_option(self):
        base = os.nice(0)
        self.start_cluster(("n1",), ["--slots", "2", "--task-nice", "0"])
        self.cluster.add_node("n2", ["--slots", "2", "--task-nice", "3"])
        fx.wait_online(self.cluster.broker.port, ["n2"])
        self.assertEqual(self.niced_threads("n1", base, 0), [], self.logs())
        self.assertEqual(self.niced_threads("n2", base, 2), [min(3, 19 - base)] * 2,
                         self.logs())
        r = self.cluster.floret("node", "--task-nice", "20")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--task-nice '20': expected a number from 0 to 19", r.stderr)


if __name__ == "__main__":
    fx.main()
