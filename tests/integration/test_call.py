#!/usr/bin/env python3
"""test_call - `floret call` against a real broker and two real nodes:
a result, a task failure, an unknown task and a bad JSON argument.
Depends on floret_fixture."""

import floret_fixture as fx


class CallTest(fx.ClusterTest):
    def setUp(self):
        self.start_cluster(("w1", "w2"))

    def test_add_prints_the_sum(self):
        r = self.cluster.floret("call", "add", "4", "4", "--timeout", "20")
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertEqual(r.stdout.strip(), "8", r.stdout)

    def test_add_many_times_uses_both_nodes_correctly(self):
        for a in range(5):
            r = self.cluster.floret("call", "add", str(a), "10", "--timeout", "20")
            self.assertEqual(r.returncode, 0, r.stderr + self.logs())
            self.assertEqual(r.stdout.strip(), str(a + 10))

    def test_fail_prints_the_error_and_exits_1(self):
        r = self.cluster.floret("call", "fail", '"boom"', "--timeout", "20")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr + self.logs())
        out = r.stdout + r.stderr
        self.assertIn("boom", out)
        self.assertIn("TaskError", out)
        self.assertNotEqual(r.stdout.strip(), "8")

    def test_unknown_task_is_named(self):
        r = self.cluster.floret("call", "no_such_task", "1", "--timeout", "20")
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("no_such_task", r.stdout + r.stderr)

    def test_bad_json_argument_exits_2_naming_it(self):
        r = self.cluster.floret("call", "add", "4", "{bad", "--timeout", "20")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("{bad", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_unreachable_broker_exits_3(self):
        port = fx.free_port()  # nobody listens there
        r = self.cluster.floret("call", "add", "1", "2", "--timeout", "5",
                                "--broker", "mqtt://127.0.0.1:%d" % port, timeout=60)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)


if __name__ == "__main__":
    fx.main()
