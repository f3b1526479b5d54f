#!/usr/bin/env python3
"""test_routing - task routing through a real broker: to a named node, to
nodes with a tag given by `floret node --tag`, to the implicit arch tag,
inside a workflow with .set(route=...), and to a tag nobody has (the task
fails at once, naming the route; it is never run elsewhere). The node that ran each task is read from
`floret call -v`. Depends on floret_fixture."""

import os
import re

import floret_fixture as fx


def ran_by(stderr):
    m = re.search(r"SUCCESS by (\S+)", stderr)
    return m.group(1) if m else None


class RoutingTest(fx.ClusterTest):
    def setUp(self):
        c = self.start_cluster(("plain",), ["--slots", "2"])
        c.add_node("gpu", ["--slots", "2", "--tag", "gpu=1", "--tag", "room=lab"])
        fx.wait_online(c.broker.port, ["gpu"])

    def call(self, *args):
        return self.cluster.floret("call", "-v", *args, "--timeout", "20")

    def test_route_to_a_tag(self):
        for i in range(8):
            r = self.call("add", str(i), "1", "--route", "gpu=1")
            self.assertEqual(r.stdout.strip(), str(i + 1), r.stderr + self.logs())
            self.assertEqual(ran_by(r.stderr), "gpu", r.stderr)
            r = self.call("add", str(i), "1", "--route", "room=lab")
            self.assertEqual(ran_by(r.stderr), "gpu", r.stderr)

    def test_route_to_a_node(self):
        for i in range(6):
            r = self.call("add", str(i), "2", "--route", "plain")
            self.assertEqual(r.stdout.strip(), str(i + 2), r.stderr + self.logs())
            self.assertEqual(ran_by(r.stderr), "plain", r.stderr)

    def test_route_to_the_arch(self):
        r = self.call("add", "1", "1", "--route", "arch=" + os.uname().machine)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertIn(ran_by(r.stderr), ("plain", "gpu"))

    def test_route_in_a_workflow(self):
        r = self.cluster.floret(
            "run", 'add(1,1).set(route="gpu=1") | mul(10).set(route="plain")',
            "--timeout", "20")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "20"), r.stderr + self.logs())

    def test_nobody_has_the_tag(self):
        r = self.cluster.floret("call", "add", "1", "1", "--route", "gpu=2",
                                "--timeout", "20")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("route 'gpu=2' matches no online node that runs 'add' "
                      "(online: gpu, plain)", r.stderr)
        r = self.cluster.floret("call", "add", "1", "1", "--route", "nosuch",
                                "--timeout", "20")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("route 'nosuch' matches no online node", r.stderr)

    def test_bad_route_and_bad_tag(self):
        r = self.cluster.floret("call", "add", "1", "1", "--route", "bad tag")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("bad tag", r.stderr)
        r = self.cluster.floret("node", "--tag", "novalue")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("KEY=VALUE", r.stderr)


if __name__ == "__main__":
    fx.main()
