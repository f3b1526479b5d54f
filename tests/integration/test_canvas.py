#!/usr/bin/env python3
"""test_canvas - `floret run` through a real broker and two real nodes: the
examples of Celery's Canvas guide and of Broccoli's README with their
documented answers, nesting, options, a failing member named in the error,
a syntax error with its caret, and --async with `floret result` (including
the keeper going away). Expected values are computed here in Python, not
copied from floret's output. Depends on floret_fixture."""

import json

import floret_fixture as fx


def call(name, args):
    return "%s(%s)" % (name, ",".join(json.dumps(a) for a in args))


class CanvasTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(("w1", "w2"), ["--slots", "2"])

    def run_expr(self, expr, *extra, timeout=60):
        return self.cluster.floret("run", expr, "--timeout", "30", *extra,
                                   timeout=timeout)

    def check(self, expr, expected):
        r = self.run_expr(expr)
        self.assertEqual(r.returncode, 0, expr + "\n" + r.stderr + self.logs())
        self.assertEqual(json.loads(r.stdout), expected, expr)

    def test_chain(self):
        self.check("add(4,4) | mul(8) | mul(10)", ((4 + 4) * 8) * 10)

    def test_group(self):
        self.check("[add(2,2), add(4,4)]", [4, 8])

    def test_chord(self):
        header = ", ".join(call("add", [i, i]) for i in range(10))
        self.check("[%s] | xsum()" % header, sum(i + i for i in range(10)))

    def test_map(self):
        items = [list(range(10)), list(range(100))]
        self.check("xsum.map(%s)" % json.dumps(items), [sum(x) for x in items])

    def test_starmap(self):
        items = [list(p) for p in zip(range(10), range(10))]
        self.check("add.starmap(%s)" % json.dumps(items), [a + b for a, b in items])

    def test_chunks(self):
        items = [list(p) for p in zip(range(100), range(100))]
        want = [[a + b for a, b in items[i:i + 10]] for i in range(0, 100, 10)]
        self.check("add.chunks(%s, 10)" % json.dumps(items), want)
        self.assertEqual(len(want), 10)

    def test_nesting(self):
        # a group of chains, a chain containing a group, a chord of chains
        self.check("[add(1,1) | mul(3), add(2,2) | mul(3)]", [6, 12])
        self.check("add(1,1) | [mul(2), mul(3)]", [4, 6])
        self.check("[add(1,1) | mul(2), add(2,2) | mul(2)] | xsum()", 12)

    def test_immutable_and_options(self):
        self.check("add(1,1) | add.si(5,5)", 10)
        self.check("add(1,2).set(retries=3, time_limit=5)", 3)

    def test_failing_member_is_named(self):
        r = self.run_expr('add(1,1) | fail.si("boom") | add(2)')
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("boom", r.stderr)
        self.assertIn("fail", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_failed_group_shows_partial_results(self):
        # the members that succeeded, null for the failed one, on stderr
        # after the error; stdout stays empty on a failure
        expr = '[add(1,1), fail("boom"), add(2,2)]'
        r = self.run_expr(expr)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertIn("error: TaskError: group member 2 (fail) failed: boom",
                      lines, r.stderr)
        partial = [l for l in lines if l.startswith("partial results: ")]
        self.assertEqual(len(partial), 1, r.stderr)
        self.assertEqual(json.loads(partial[0].split(": ", 1)[1]),
                         [1 + 1, None, 2 + 2])
        # the same through a keeper: the result message carries the list
        a = self.run_expr(expr, "--async")
        self.assertEqual(a.returncode, 0, a.stderr + self.logs())
        g = self.cluster.floret("result", a.stdout.strip(), "--timeout", "30")
        self.assertEqual(g.returncode, 1, g.stdout + g.stderr)
        self.assertIn("partial results: [2,null,4]", g.stderr.splitlines())

    def test_steps_and_members_count_from_one(self):
        # the second step and the second member are both "2"
        r = self.run_expr('add(1,1) | fail.si("boom") | add(2)')
        self.assertIn("chain step 2 (fail) failed: boom", r.stderr)
        r = self.run_expr('[add(1,1), fail("boom")]')
        self.assertIn("group member 2 (fail) failed: boom", r.stderr)
        r = self.run_expr('xsum([1, "x"])')
        self.assertIn("element 2 of argument 1 must be a number", r.stderr)
        r = self.run_expr('add.chunks([[1,1],[2,"x"]], 2)')
        self.assertIn("chunk element 2 (add)", r.stderr)

    def test_run_from_a_file_and_stdin(self):
        # 100,000 items: 588,889 bytes of list, too long for one argv string
        # (Linux caps one at 128 KiB), so -f is the way in
        items = list(range(100000))
        expr = "echo.map(%s)" % json.dumps(items, separators=(",", ":"))
        self.assertGreater(len(expr), 588889)
        path = self.cluster.workdir + "/big.floret"
        with open(path, "w") as f:
            f.write(expr + "\n")
        r = self.cluster.floret("run", "-f", path, "--timeout", "120",
                                timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:] + self.logs()[-4000:])
        self.assertEqual(json.loads(r.stdout), items)
        # --show's output feeds back, through stdin and a file, unchanged
        s = self.cluster.floret("run", "--show", "[add(1,1), add(2,2)] | xsum()")
        self.assertEqual(s.returncode, 0, s.stderr)
        again = self.cluster.floret("run", "--show", "-", input=s.stdout)
        self.assertEqual(again.stdout, s.stdout)
        r = self.cluster.floret("run", "-", "--timeout", "30", input=s.stdout)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(json.loads(r.stdout), (1 + 1) + (2 + 2))
        with open(path, "w") as f:
            f.write(s.stdout)
        r = self.cluster.floret("run", "--file", path, "--timeout", "30")
        self.assertEqual(json.loads(r.stdout), 6, r.stderr)
        # an expression over several lines points at the line and column
        r = self.cluster.floret("run", "-", input="add(1,1) |\n  mul(2,\n")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("expected a JSON value (line 2, column 9)", r.stderr)
        # a canvas JSON is checked before anything runs, like an expression
        r = self.cluster.floret("run", "-", input='{"group":[{"tusk":1}]}')
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("canvas.group[0]: expected one of task", r.stderr)
        r = self.cluster.floret("run", "-f", path + ".missing")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot open", r.stderr)

    def test_depth_limit_is_one_limit(self):
        # groups nested n deep make 2n + 2 levels of canvas JSON; the limit
        # is 31 (a keeper's submit message holds the canvas one level down)
        def nest(n):
            return "[" * n + "add(1,1)" + "]" * n
        for extra in ([], ["--async"]):
            r = self.run_expr(nest(14), *extra)  # 30 levels: runs
            self.assertEqual(r.returncode, 0, r.stderr + self.logs())
            if extra:
                r = self.cluster.floret("result", r.stdout.strip(),
                                        "--timeout", "30")
            self.assertEqual(json.loads(r.stdout), json.loads(nest(14).replace(
                "add(1,1)", "2")))
        for n in (15, 16, 31):  # 32, 34 and 64 levels: refused, saying so
            for args in (["--show"], []):
                r = self.cluster.floret("run", nest(n), *args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("canvas JSON is nested %d levels deep, over the "
                              "limit of 31" % (2 * n + 2), r.stderr)
                self.assertNotIn("not valid JSON", r.stderr)
        # task arguments: 29 levels with the args array, as a lease
        # carries them 3 levels down; a deeper call is refused at once
        r = self.cluster.floret("call", "echo", "[" * 28 + "]" * 28)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), json.loads("[" * 28 + "]" * 28))
        r = self.cluster.floret("call", "--timeout", "10", "echo",
                                "[" * 29 + "]" * 29)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("args: nested 30 levels deep, over the limit of 29 for "
                      "task arguments", r.stderr)
        # the same canvas given as JSON says the same
        deep = self.cluster.floret("run", "--show", nest(14)).stdout
        deep = '{"group":[' + deep.strip() + "]}"
        r = self.cluster.floret("run", "-", input=deep)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("canvas: nested 32 levels deep, over the limit of 31",
                      r.stderr)

    def test_integers_are_exact(self):
        # beyond 2^53 a double would round: 2^53 + 1 stays 2^53 + 1
        big = 2 ** 53
        r = self.cluster.floret("call", "add", str(big), "1")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(r.stdout.strip(), str(big + 1))
        self.check("add(%d, 1) | mul(3)" % big, (big + 1) * 3)
        self.check("[add(%d, 1), add(1, 1)] | xsum()" % big, big + 1 + 2)
        self.check("echo(%d)" % (2 ** 70 + 1), 2 ** 70 + 1)
        r = self.run_expr("add(%d, 1)" % (2 ** 63 - 1))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("OverflowError: add(): %d + 1 is beyond a 64-bit "
                      "integer" % (2 ** 63 - 1), r.stderr)
        r = self.run_expr("add(%d, 1)" % 2 ** 64)
        self.assertIn("argument 1 (%d) is an integer beyond 64 bits" % 2 ** 64,
                      r.stderr)

    def test_syntax_error_shows_a_caret(self):
        expr = "add(4,4) | mul(8"
        r = self.run_expr(expr)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        lines = r.stderr.splitlines()
        self.assertIn("  " + expr, lines, r.stderr)
        caret = lines[lines.index("  " + expr) + 1]
        self.assertTrue(caret.strip() == "^", r.stderr)
        self.assertLessEqual(caret.index("^") - 2, len(expr))

    def test_async_then_result(self):
        r = self.run_expr("[add(1,1), add(2,2)] | xsum()", "--async")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        wid = r.stdout.strip()
        self.assertRegex(wid, r"^w[12]:[0-9]+$")
        for _ in range(2):  # the keeper keeps it: asking twice works
            g = self.cluster.floret("result", wid, "--timeout", "30")
            self.assertEqual(g.returncode, 0, g.stderr + self.logs())
            self.assertEqual(json.loads(g.stdout), 6)
        owner = wid.split(":")[0]
        bad = self.cluster.floret("result", owner + ":99999", "--timeout", "10")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("NotFound", bad.stderr)

    def test_async_keeper_dies(self):
        r = self.run_expr("sleep(30)", "--async", "--owner", "w1")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.cluster.nodes["w1"].kill()
        g = self.cluster.floret("result", r.stdout.strip(), "--timeout", "30")
        self.assertEqual(g.returncode, 1, g.stdout + g.stderr)
        self.assertIn("OwnerLost", g.stderr)


if __name__ == "__main__":
    fx.main()
