#!/usr/bin/env python3
"""test_deploy - Lua modules deployed to running nodes through a real broker:
two nodes load a signed module without a restart and list it in presence;
its task runs with `floret call` and inside a chord with `floret run`; a
redeploy of a changed version gives the new results; a third node started
after the deploy gets the module from the retained message and runs it;
`floret status` shows module versions; undeploy removes the tasks; the
example module's word-count mapper counts like floret's word count.
Depends on floret_fixture and deploy_fixture."""

import json
import os

import deploy_fixture as dfx
import floret_fixture as fx

V1 = """
local M = {}
function M.f(x) return x + 1 end
function M.total(list) local s = 0 for _, v in ipairs(list) do s = s + v end return s end
function M.where() return floret.node end
function M.kw(a) return {a = a, scale = floret.kwargs.scale} end
return M
"""

V2 = V1.replace("return x + 1", "return x + 100")

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "lua", "tasks.lua")


class DeployTest(dfx.DeployTest):
    def test_deploy_call_chord_redeploy_late_joiner(self):
        c = self.start_trusting(("w1", "w2"))
        path = self.write_module("calc", V1)
        v1 = self.version_of(self.deploy(path, "--key", self.key))
        seen = dfx.wait_modules(c.broker.port, ["w1", "w2"], {"calc@" + v1})
        for n in ("w1", "w2"):
            self.assertIn("calc.f", seen[n]["tasks"])
            self.assertIn("add", seen[n]["tasks"])  # native tasks stay

        self.assert_call("2", "calc.f", "1")
        r = self.call("calc.kw", "3", "--kwargs", '{"scale":2}')
        self.assertEqual(json.loads(r.stdout), {"a": 3, "scale": 2}, r.stderr)
        for n in ("w1", "w2"):  # both nodes run it
            self.assert_call('"%s"' % n, "calc.where", "--route", n)
        r = self.cluster.floret("run", "[calc.f(1), calc.f(2), calc.f(3)] | calc.total()",
                                "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "9"), r.stderr + self.logs())
        # A chord mixing native and Lua tasks.
        r = self.cluster.floret("run", "[calc.f(1), add(2, 2)] | xsum()", "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "6"), r.stderr + self.logs())

        path = self.write_module("calc", V2)
        v2 = self.version_of(self.deploy(path, "--key", self.key))
        self.assertNotEqual(v1, v2)
        dfx.wait_modules(c.broker.port, ["w1", "w2"], {"calc@" + v2})
        for n in ("w1", "w2"):
            self.assert_call("101", "calc.f", "1", "--route", n)
        r = self.cluster.floret("run", "[calc.f(1), calc.f(2)] | calc.total()",
                                "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "203"), r.stderr + self.logs())

        self.add_trusting("w3")
        dfx.wait_modules(c.broker.port, ["w3"], {"calc@" + v2})
        self.assert_call("105", "calc.f", "5", "--route", "w3")
        self.assert_call('"w3"', "calc.where", "--route", "w3")

        r = self.cluster.floret("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        nodes = {n["id"]: n for n in json.loads(r.stdout)}
        for n in ("w1", "w2", "w3"):
            self.assertEqual(nodes[n]["modules"], ["calc@" + v2])
        r = self.cluster.floret("status")
        self.assertIn("calc@" + v2, r.stdout)
        self.assertIn("MODULES", r.stdout)

        r = self.cluster.floret("undeploy", "calc", "--key", self.key)
        self.assertEqual(r.returncode, 0, r.stderr)
        dfx.wait_modules(c.broker.port, ["w1", "w2", "w3"], set())
        r = self.call("calc.f", "1", "--route", "w1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("UnknownTask", r.stderr)
        # The undeploy is retained too: a node joining now does not load it.
        self.add_trusting("w4")
        fx.wait_online(c.broker.port, ["w4"])
        self.wait_log("w4", "undeployed module calc")
        self.assertNotIn("deployed module calc version", self.cluster.nodes["w4"].log_text())

    def test_example_module_and_word_count_mapper(self):
        c = self.start_trusting(("w1",))
        v = self.version_of(self.deploy(EXAMPLE, "--key", self.key))
        dfx.wait_modules(c.broker.port, ["w1"], {"tasks@" + v})
        self.assert_call("8", "tasks.add", "4", "4")
        self.assert_call("[2,3,5,7,11,13]", "tasks.primes", "15")
        r = self.call("tasks.wc_map", json.dumps("The cat, the CAT; caf\u00e9 42 x"))
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(json.loads(r.stdout),
                         {"the": 2, "cat": 2, "caf\u00e9": 1, "42": 1, "x": 1})
        r = self.call("tasks.wc_map", '"a bb ccc bb"', "--kwargs", '{"min_length":2}')
        self.assertEqual(json.loads(r.stdout), {"bb": 2, "ccc": 1})
        r = self.cluster.floret("run", '[tasks.wc_map("a b a"), tasks.wc_map("b c")] | tasks.wc_merge()',
                                "--timeout", "20")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(json.loads(r.stdout), {"a": 2, "b": 2, "c": 1})

        # floret wordcount --map tasks.wc_map counts exactly like wc.map.
        text = os.path.join(c.workdir, "words.txt")
        with open(text, "w", encoding="utf-8") as f:
            for i in range(3000):
                f.write("The quick brown fox %d jumps over THE lazy dog, caf\u00e9 n\u00b0%d\r\n"
                        % (i % 97, i % 13))
        for extra in ([], ["--min-length", "4"]):
            want = self.cluster.floret("wordcount", "--all", "--chunk", "16k", text, *extra)
            got = self.cluster.floret("wordcount", "--all", "--chunk", "16k",
                                      "--map", "tasks.wc_map", text, *extra)
            self.assertEqual(want.returncode, 0, want.stderr + self.logs())
            self.assertEqual(got.returncode, 0, got.stderr + self.logs())
            self.assertGreater(len(want.stdout.splitlines()), 10)
            self.assertEqual(got.stdout, want.stdout, extra)
        r = self.cluster.floret("wordcount", "--map", "tasks.nope", "--chunk", "16k", text,
                                "--quiet", timeout=120)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("tasks.nope", r.stderr)
        r = self.cluster.floret("wordcount", "--map", "tasks.add", "--chunk", "16k", text)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("tasks.add", r.stderr)

    def test_deploy_refuses_a_bad_module_before_sending(self):
        self.start_trusting(("w1",))
        path = self.write_module("broken", "local M = {}\nfunction M.f( return M\n")
        r = self.deploy(path, "--key", self.key, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("module broken: broken:2:", r.stderr)
        r = self.deploy(self.write_module("x", "return {}"), "--key", self.key,
                        "--name", "bad.name", ok=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("module name 'bad.name' is not valid", r.stderr)
        r = self.deploy(path, ok=False)  # no key
        self.assertEqual(r.returncode, 2)
        self.assertIn("no key", r.stderr)


if __name__ == "__main__":
    fx.main()
