#!/usr/bin/env python3
"""test_isolation - hard time limits that free the slot (docs/tasks.md,
"Isolation"), on real nodes and a real broker:

- a Lua task stuck inside one C call (a backtracking string.find) is
  killed at its hard limit under the default pool, the waiter gets
  TimeLimitExceeded, and the same one-slot node serves the next task from
  a new child process; under --pool thread the same task keeps the slot;
- a module whose top-level code sticks in string.find, or loops, is
  refused (naming the module and the limit) while the node keeps serving,
  also when retained and received by a node that starts later, and
  `floret deploy` refuses it before sending;
- a native task that ignores cancellation (stubborn_node) frees its slot
  at its limit under the process pool, and keeps it under the thread pool;
- `floret revoke --terminate` of a stuck Lua task kills its child;
- child processes never outlive their node (SIGTERM or SIGKILL).
Depends on floret_fixture, deploy_fixture and $STUBBORN_BIN."""

import os
import signal
import time

import deploy_fixture as dfx
import floret_fixture as fx

STUBBORN_BIN = os.environ.get("STUBBORN_BIN", "")

STUCK = """
local M = {}
function M.find(n)
  return string.find(string.rep('a', n), string.rep('a*', n) .. 'b')
end
function M.quick(x) return x + 1 end
return M
"""

TOP_FIND = """
string.find(string.rep('a', 30), string.rep('a*', 30) .. 'b')
return {f = function() return 1 end}
"""

TOP_LOOP = """
while true do end
return {f = function() return 1 end}
"""


def children(pid):
    """Pids of the live (not zombie) children of pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class IsolationTest(dfx.DeployTest):
    def node_pid(self, name):
        return self.cluster.nodes[name].proc.pid

    def one_child(self, name):
        """The one child process of node name, once there is exactly one."""
        box = {}

        def one():
            box["c"] = children(self.node_pid(name))
            return len(box["c"]) == 1

        fx.wait_until(one, 10.0, what="one child of %s" % name)
        return box["c"][0]

    def test_stuck_lua_task_killed_and_slot_serves_next(self):
        c = self.start_trusting(("w1",), ["--slots", "1"])
        v = self.version_of(self.deploy(self.write_module("stuck", STUCK), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"stuck@" + v})
        self.assert_call("5", "stuck.quick", "4")
        first = self.one_child("w1")
        r = self.call("stuck.find", "30", "--time-limit", "1")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("error: TimeLimitExceeded: stuck.find exceeded its time limit of "
                      "1000 ms", r.stderr, self.logs())
        fx.wait_until(lambda: gone(first), 10.0, what="the stuck child %d killed" % first)
        self.wait_log("w1", "its process %d ended by signal 9" % first)
        # The same slot, a new child.
        self.assert_call("6", "stuck.quick", "5")
        second = self.one_child("w1")
        self.assertNotEqual(second, first)
        self.assert_call("7", "add", "3", "4")
        # Again, several times: every kill frees the slot.
        for i in range(3):
            r = self.call("stuck.find", "25", "--time-limit", "0.3")
            self.assertIn("TimeLimitExceeded", r.stderr, self.logs())
            self.assert_call(str(i + 2), "stuck.quick", str(i + 1))
        self.assertTrue(c.nodes["w1"].alive())
        self.assertLessEqual(len(children(self.node_pid("w1"))), 1)

    def test_revoke_kills_a_stuck_lua_task(self):
        """floret revoke --terminate of a running task kills its child."""
        c = self.start_trusting(("w1",), ["--slots", "1"])
        v = self.version_of(self.deploy(self.write_module("stuck", STUCK), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"stuck@" + v})
        r = c.floret("run", "--async", "--owner", "w1", "stuck.find(30)", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        wid = r.stdout.strip()
        # The slot's child is forked for the task, which then runs.
        fx.wait_until(lambda: len(children(self.node_pid("w1"))) == 1, 20,
                      what="the stuck task's child")
        stuck = children(self.node_pid("w1"))[0]
        r = c.floret("revoke", "--terminate", wid, timeout=30)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, wid + " revoked"),
                         r.stderr + self.logs())
        fx.wait_until(lambda: gone(stuck), 10.0, what="the stuck child %d killed" % stuck)
        self.assert_call("2", "stuck.quick", "1")
        r = c.floret("result", wid, "--timeout", "5")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("Revoked", r.stderr)

    def test_thread_pool_keeps_the_slot(self):
        """The contrast: on a thread the stuck C call keeps its slot."""
        c = self.start_trusting(("w1",), ["--slots", "1", "--pool", "thread"])
        v = self.version_of(self.deploy(self.write_module("stuck", STUCK), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"stuck@" + v})
        self.assert_call("5", "stuck.quick", "4")
        self.assertEqual(children(self.node_pid("w1")), [])
        r = self.call("stuck.find", "30", "--time-limit", "0.5")
        self.assertIn("TimeLimitExceeded", r.stderr, self.logs())
        r = self.call("stuck.quick", "1", timeout=3)
        self.assertEqual(r.returncode, 1, "the slot was free: " + r.stdout)
        c.nodes["w1"].kill()  # it would spin until stopped

    def test_hostile_top_level_refused_and_node_serves(self):
        # A small step budget, so that the loop meets it long before the
        # wall-clock limit even on a busy host.
        limits = ["--slots", "1", "--lua-load-limit", "1", "--lua-steps", "1000000"]
        c = self.start_trusting(("w1",), limits)
        watch = fx.Mqtt(c.broker.port, "isolation-pub")
        self.addCleanup(watch.close)
        watch.publish(fx.PREFIX + "ctl/hang", dfx.sign_deploy(
            self.key, "hang", TOP_FIND, int(time.time() * 1000)), retain=True)
        watch.publish(fx.PREFIX + "ctl/loop", dfx.sign_deploy(
            self.key, "loop", TOP_LOOP, int(time.time() * 1000)), retain=True)
        # The node answers while the checks run.
        self.assert_call("3", "add", "1", "2")
        self.wait_log("w1", "deploy of module hang version")
        self.wait_log("w1", "module hang: its top-level code was still running after the "
                      "load limit of 1000 ms, so its check was killed")
        self.wait_log("w1", "module loop: instruction budget of 1000000 steps exceeded")
        self.assert_call("7", "add", "3", "4")
        self.assert_unknown("hang.f")
        self.assert_unknown("loop.f")
        # No check process is left behind.
        fx.wait_until(lambda: children(self.node_pid("w1")) == [], 10.0,
                      what="no child of w1")
        # Retained: a node that starts later refuses them too and serves.
        self.add_trusting("w2", limits)
        fx.wait_online(c.broker.port, ["w2"])
        self.assert_call("5", "add", "2", "3", "--route", "w2")
        self.wait_log("w2", "load limit of 1000 ms")
        self.assert_call("9", "add", "4", "5", "--route", "w2")
        # A later good deploy of the same module is accepted.
        v = self.version_of(self.deploy(self.write_module("hang", STUCK), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1", "w2"], {"hang@" + v})
        self.assert_call("2", "hang.quick", "1")
        # floret deploy refuses such a module itself, with a node's limits.
        r = self.deploy(self.write_module("top", TOP_FIND), "--key", self.key, ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("module top: its top-level code was still running after the load "
                      "limit of 5000 ms", r.stderr)

    def test_children_do_not_outlive_the_node(self):
        c = self.start_trusting(("w1", "w2"), ["--slots", "2"])
        v = self.version_of(self.deploy(self.write_module("stuck", STUCK), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1", "w2"], {"stuck@" + v})
        r = self.cluster.floret("run", "[stuck.quick(1), stuck.quick(2), stuck.quick(3), "
                                "stuck.quick(4), stuck.quick(5), stuck.quick(6)]",
                                "--timeout", "30")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "[2,3,4,5,6,7]"), r.stderr)
        kids = {n: children(self.node_pid(n)) for n in ("w1", "w2")}
        self.assertTrue(kids["w1"] or kids["w2"], kids)
        # A child stuck in a task when its node is stopped, and one idle.
        self.cluster.floret("call", "stuck.find", "30", "--route", "w1", "--timeout", "1")
        c.nodes["w1"].stop()  # SIGTERM: the grace ends, the stuck child is killed
        c.nodes["w2"].kill()  # SIGKILL: its children die with it
        for n in ("w1", "w2"):
            for pid in kids[n]:
                fx.wait_until(lambda: gone(pid), 10.0, what="child %d of %s gone" % (pid, n))


class NativeIsolationTest(fx.ClusterTest):
    def stubborn(self, name, pool):
        node = fx.Node.__new__(fx.Node)
        node.name = name
        node.log = os.path.join(self.cluster.workdir, "node-%s.log" % name)
        node.proc = fx.spawn([STUBBORN_BIN, self.cluster.url, name, pool], node.log)
        self.cluster.nodes[name] = node
        fx.wait_online(self.cluster.broker.port, [name])
        return node

    def call(self, *args, timeout=20):
        return self.cluster.floret("call", *args, "--timeout", str(timeout))

    def test_stubborn_native_task(self):
        self.assertTrue(STUBBORN_BIN and os.access(STUBBORN_BIN, os.X_OK), STUBBORN_BIN)
        self.start_cluster(())
        p = self.stubborn("p1", "process")
        r = self.call("stubborn", "30", "--time-limit", "1")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("TimeLimitExceeded: stubborn exceeded its time limit of 1000 ms",
                      r.stderr, self.logs())
        r = self.call("pid")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertNotEqual(int(float(r.stdout)), p.proc.pid)  # ran in a child
        self.assertIn(int(float(r.stdout)), children(p.proc.pid))
        r = self.call("add", "1", "2")
        self.assertEqual(r.stdout.strip(), "3", r.stderr)
        p.stop()
        # The same task on a thread pool holds the slot until it returns.
        t = self.stubborn("t1", "thread")
        r = self.call("stubborn", "6", "--time-limit", "0.5")
        self.assertIn("TimeLimitExceeded", r.stderr, self.logs())
        r = self.call("pid", timeout=2)
        self.assertEqual(r.returncode, 1, "the slot was free: " + r.stdout)
        r = self.call("pid", timeout=20)
        self.assertEqual(int(float(r.stdout)), t.proc.pid, r.stderr)  # on a thread
        t.stop()


if __name__ == "__main__":
    fx.main()
