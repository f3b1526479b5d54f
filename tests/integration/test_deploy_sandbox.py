#!/usr/bin/env python3
"""test_deploy_sandbox - bad Lua tasks on a real node: a script that loops
forever, allocates without bound, raises an error, returns something JSON
cannot hold or reaches for io/os/require/load fails its task with its own
clear error naming module, function and reason, and the node then serves
the next task (Lua and native). Nodes run with small --lua-steps and
--lua-mem so the limits bite fast. Hostile modules: a finalizer (__gc)
that would loop outside the budget is refused, in a task and at a module's
top level, also when retained and received at start-up; writing into the
string metatable changes nothing for another module; a result whose JSON
text would pass --lua-mem fails with MemoryLimitExceeded.
Depends on floret_fixture and deploy_fixture."""

import time

import deploy_fixture as dfx
import floret_fixture as fx

BAD = """
local M = {}
function M.ok(x) return {fine = x} end
function M.spin() while true do end end
function M.sneaky() while true do pcall(function() while true do end end) end end
function M.hog() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(4096) .. i end end
function M.boom(what) error('boom: ' .. what) end
function M.fn() return {f = function() end} end
function M.nan() return {0/0} end
function M.mixed() return {1, 2, k = 3} end
function M.cycle() local t = {} t.me = t return t end
function M.escape() return io.open('/etc/passwd'):read('a') end
function M.shell() return os.execute('true') end
function M.req() return require('os') end
function M.dump() return string.dump(M.ok) end
return M
"""

CASES = [
    ("bad.spin", [], "StepLimitExceeded: lua task bad.spin: instruction budget of 2000000 steps exceeded"),
    ("bad.sneaky", [], "StepLimitExceeded: lua task bad.sneaky: instruction budget"),
    ("bad.hog", [], "MemoryLimitExceeded: lua task bad.hog: memory cap of 16777216 bytes exceeded"),
    ("bad.boom", ['"here"'], "LuaError: lua task bad.boom: bad:7: boom: here"),
    ("bad.fn", [], "ValueError: lua task bad.fn: result.f: a function (not JSON-able)"),
    ("bad.nan", [], "ValueError: lua task bad.nan: result[1]: NaN"),
    ("bad.mixed", [], "ValueError: lua task bad.mixed: result: a table mixing array items and string keys"),
    ("bad.cycle", [], "ValueError: lua task bad.cycle: result.me.me.me"),
    ("bad.escape", [], "LuaError: lua task bad.escape: bad:12: attempt to index a nil value (global 'io')"),
    ("bad.shell", [], "LuaError: lua task bad.shell: bad:13: attempt to index a nil value (global 'os')"),
    ("bad.req", [], "LuaError: lua task bad.req: bad:14: attempt to call a nil value (global 'require')"),
    ("bad.dump", [], "LuaError: lua task bad.dump: bad:15: attempt to call a nil value (field 'dump')"),
]


class SandboxTest(dfx.DeployTest):
    def test_each_bad_script_fails_alone(self):
        c = self.start_trusting(("w1",), ["--lua-steps", "2000000", "--lua-mem", "16"])
        v = self.version_of(self.deploy(self.write_module("bad", BAD), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"bad@" + v})
        for task, args, want in CASES:
            r = self.call(task, *args)
            self.assertEqual(r.returncode, 1, "%s: %s" % (task, r.stdout))
            self.assertIn("error: " + want, r.stderr, task + self.logs())
            self.assert_call('{"fine":1}', "bad.ok", "1")
            self.assert_call("7", "add", "3", "4")
        self.assertTrue(c.nodes["w1"].alive())
        # Many at once, bad and good mixed, on both slots.
        r = self.cluster.floret("run", "[bad.spin(), bad.ok(2), bad.hog(), bad.ok(3)]",
                                "--timeout", "60")
        self.assertEqual(r.returncode, 1)
        self.assertIn("StepLimitExceeded", r.stderr)
        r = self.cluster.floret("run", "[bad.ok(2), bad.ok(3), bad.ok(4)]", "--timeout", "30")
        self.assertEqual((r.returncode, r.stdout.strip()),
                         (0, '[{"fine":2},{"fine":3},{"fine":4}]'), r.stderr)
        self.assertTrue(c.nodes["w1"].alive())

    def test_time_limit_stops_a_spinning_script(self):
        c = self.start_trusting(("w1",))  # default budget: 10^8 steps
        v = self.version_of(self.deploy(self.write_module("bad", BAD), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"bad@" + v})
        r = self.call("bad.spin", "--time-limit", "0.2")
        self.assertEqual(r.returncode, 1)
        self.assertIn("TimeLimitExceeded", r.stderr)
        self.assert_call('{"fine":5}', "bad.ok", "5")


HOSTILE = """
local M = {}
local loop = function() while true do end end
function M.gc() error(setmetatable({}, {__gc = loop})) end
function M.poison()
  local mt = getmetatable('')
  if type(mt) == 'table' then mt.__index = {upper = function() return 'PWNED' end} end
  return type(mt)
end
function M.up() return ('x'):upper() end
function M.esc() return ('\\1'):rep(4 * 1024 * 1024) end
return M
"""

GC_TOP = """
setmetatable({}, {__gc = function() while true do end end})
return {f = function() return 1 end}
"""


class HostileLuaTest(dfx.DeployTest):
    def test_finalizers_metatable_and_json(self):
        c = self.start_trusting(("w1",), ["--slots", "1", "--lua-mem", "16"])
        v = self.version_of(self.deploy(self.write_module("h", HOSTILE), "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"h@" + v})
        r = self.call("h.gc")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("a metatable with __gc is not allowed", r.stderr, self.logs())
        self.assert_call('"boolean"', "h.poison")
        self.assert_call('"X"', "h.up")
        r = self.call("h.esc")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("MemoryLimitExceeded: lua task h.esc: memory cap of 16777216", r.stderr)
        self.assert_call("7", "add", "3", "4")
        # At top level: refused at deploy, and by a node that starts later
        # and gets it retained; both keep serving.
        # floret deploy refuses it itself; a hand-made signed one is refused
        # by the nodes.
        r = self.deploy(self.write_module("top", GC_TOP), "--key", self.key, ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("__gc is not allowed", r.stderr)
        watch = fx.Mqtt(c.broker.port, "hostile-pub")
        self.addCleanup(watch.close)
        watch.publish(fx.PREFIX + "ctl/top", dfx.sign_deploy(
            self.key, "top", GC_TOP, int(time.time() * 1000)), retain=True)
        self.wait_log("w1", "__gc is not allowed")
        self.add_trusting("w2", ["--slots", "1"])
        fx.wait_online(c.broker.port, ["w2"])
        self.wait_log("w2", "__gc is not allowed")
        self.assert_call("3", "add", "1", "2", "--route", "w2")
        self.assert_unknown("top.f")


if __name__ == "__main__":
    fx.main()
