#!/usr/bin/env python3
"""test_status - `floret status --json` lists the cluster's nodes as their
retained presence describes them: both nodes online, with their slots and
task names; a node that stopped shows as offline. Depends on floret_fixture."""

import json

import floret_fixture as fx


def node_list(doc):
    """The node entries of the status document (a list, or {"nodes": [...]})."""
    if isinstance(doc, dict):
        doc = doc.get("nodes")
    if not isinstance(doc, list):
        raise AssertionError("status --json is not a list of nodes: %r" % (doc,))
    return {n.get("id", n.get("name")): n for n in doc}


def is_online(entry):
    if "online" in entry:
        return entry["online"] is True
    return entry.get("state") == "online"


class StatusTest(fx.ClusterTest):
    def setUp(self):
        c = self.start_cluster(())
        c.add_node("s1", ["--slots", "2"])
        c.add_node("s2", ["--slots", "3", "--max-message", "65536"])
        fx.wait_online(c.broker.port, ["s1", "s2"])

    def status(self):
        r = self.cluster.floret("status", "--json", "--wait", "1000", timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.logs())
        try:
            return node_list(json.loads(r.stdout))
        except ValueError as e:
            raise AssertionError("status --json printed no JSON (%s): %r" % (e, r.stdout))

    def test_lists_both_nodes_with_slots_and_tasks(self):
        nodes = self.status()
        for name, slots in (("s1", 2), ("s2", 3)):
            self.assertIn(name, nodes, nodes)
            entry = nodes[name]
            self.assertTrue(is_online(entry), entry)
            self.assertEqual(entry["slots"], slots, entry)
            tasks = entry["tasks"]
            if isinstance(tasks, str):
                tasks = tasks.split(",")
            for t in ("add", "mul", "xsum", "echo", "sleep", "fail"):
                self.assertIn(t, tasks, entry)
        # The largest message each takes, from presence (default 8 MiB).
        self.assertEqual(nodes["s1"]["max_msg"], 8 * 1024 * 1024, nodes)
        self.assertEqual(nodes["s2"]["max_msg"], 65536, nodes)

    def test_a_stopped_node_shows_offline(self):
        self.cluster.nodes["s2"].stop()
        nodes = self.status()
        self.assertTrue(is_online(nodes["s1"]), nodes)
        if "s2" in nodes:
            self.assertFalse(is_online(nodes["s2"]), nodes)


if __name__ == "__main__":
    fx.main()
