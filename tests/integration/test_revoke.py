#!/usr/bin/env python3
"""test_revoke - the workflow C API (fl_node_apply, fl_result_revoke) from a
C client against a real broker and node: see revoke.c for the checks; here
the cluster, and a check that the revoked sleeps stopped on the node.
Depends on floret_fixture."""

import os
import subprocess

import floret_fixture as fx


class RevokeTest(fx.ClusterTest):
    def test_apply_and_revoke_from_c(self):
        c = self.start_cluster(("w1",), ["--slots", "4"])
        r = subprocess.run([os.environ["REVOKE_BIN"]], env=c.env(),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.logs())
        self.assertEqual(r.stdout.split("\n")[:3],
                         ["ok chord", "ok revoke", "ok bad canvas"])
        # The node is free again: a task runs at once.
        q = c.floret("call", "add", "2", "3", "--timeout", "10")
        self.assertEqual(q.stdout.strip(), "5", q.stderr + self.logs())


if __name__ == "__main__":
    fx.main()
