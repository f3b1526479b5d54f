#!/usr/bin/env python3
"""test_status_more - `floret status` grown up (docs/protocol.md 3.11):
tags, uptime, counters that match the tasks each node ran, the task running
now, an owner's leased count; offline nodes last seen too long ago are left
out unless --all; `floret forget` clears a gone node's retained presence
and stats and refuses an online one; --watch redraws until Ctrl-C.
Depends on floret_fixture."""

import json
import os
import re
import signal
import subprocess
import time

import floret_fixture as fx


class StatusMoreTest(fx.ClusterTest):
    def setUp(self):
        c = self.start_cluster(())
        c.add_node("s1", ["--slots", "2", "--tag", "room=lab"])
        c.add_node("s2", ["--slots", "1"])
        c.add_node("s3", ["--slots", "1"])
        fx.wait_online(c.broker.port, ["s1", "s2", "s3"])

    def status(self, *args):
        r = self.cluster.floret("status", "--json", *args, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.logs())
        return {n["id"]: n for n in json.loads(r.stdout)}

    def test_counters_running_and_owner_queues(self):
        ran = {}
        for i in range(6):
            r = self.cluster.floret("call", "-v", "add", str(i), "2", timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            node = re.search(r"SUCCESS by (\S+)", r.stderr).group(1)
            ran[node] = ran.get(node, 0) + 1
        sleeper = subprocess.Popen([fx.FLORET_BIN, "call", "sleep", "5"], env=self.cluster.env(),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        fx._live_processes.append(sleeper)
        self.addCleanup(fx.stop_process, sleeper)

        def settled():
            nodes = self.status("--wait", "2500")
            done = all(nodes.get(n, {}).get("counters", {}).get("executed") == k
                       for n, k in ran.items())
            busy = any(x.get("running") for x in nodes.values())
            owner = [x for x in nodes.values() if x.get("owner", {}).get("leased") == 1]
            return nodes if done and busy and owner else None
        nodes = fx.wait_until(settled, 20, interval=0.2, what="counters, a running sleep, an owner")
        for name, k in ran.items():
            self.assertEqual(nodes[name]["counters"]["succeeded"], k, nodes[name])
            self.assertEqual(nodes[name]["by_task"]["add"]["executed"], k, nodes[name])
        self.assertEqual(nodes["s1"]["tags"], ["room=lab"])
        self.assertGreater(nodes["s1"]["uptime_ms"], 0)
        running = [r for x in nodes.values() for r in x.get("running", [])]
        self.assertEqual([r["task"] for r in running], ["sleep"], running)
        client = [x for x in nodes.values() if x.get("owner", {}).get("leased") == 1][0]
        self.assertEqual(client["slots"], 0, client)
        self.assertEqual(client["owner"]["submitted"], 1, client)
        r = self.cluster.floret("status", timeout=30)
        self.assertIn("room=lab", r.stdout)
        self.assertIn("RUNNING", r.stdout)
        self.assertRegex(r.stdout, r"s1\s+online")

    def test_offline_hidden_forget_and_watch(self):
        # s3's first stats (sent on connecting) say when it was last alive.
        fx.wait_until(lambda: "last_seen" in self.status().get("s3", {}), 15,
                      what="s3's stats")
        self.cluster.nodes["s3"].kill()
        nodes = fx.wait_until(lambda: (lambda n: n if n.get("s3", {}).get("state") == "offline"
                                       else None)(self.status()), 30, what="s3 offline")
        self.assertIn("s3", nodes)
        time.sleep(1.5)
        nodes = self.status("--offline-after", "1")
        self.assertNotIn("s3", nodes)
        self.assertIn("s1", nodes)
        r = self.cluster.floret("status", "--offline-after", "1", timeout=30)
        self.assertIn("1 offline node last seen over 1s ago not shown", r.stdout)
        self.assertIn("s3", self.status("--offline-after", "1", "--all"))

        r = self.cluster.floret("forget", "s2", timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("s2 is online", r.stderr)
        r = self.cluster.floret("forget", "s3", timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("forgot s3", r.stdout)
        nodes = self.status("--all")
        self.assertNotIn("s3", nodes)
        self.assertIn("s2", nodes)
        m = fx.Mqtt(self.cluster.broker.port, "status-more-%d" % os.getpid())
        self.addCleanup(m.close)
        m.subscribe(fx.PREFIX + "node/s3/#")
        self.assertEqual([x for x in m.drain(1.0) if x[1]], [])

        p = subprocess.Popen([fx.FLORET_BIN, "status", "--watch"], env=self.cluster.env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        fx._live_processes.append(p)
        time.sleep(5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        fx._live_processes.remove(p)
        self.assertEqual(p.returncode, 0, err)
        self.assertGreaterEqual(out.count("floret status: cluster 'default'"), 2, out)
        self.assertIn("s1", out)


if __name__ == "__main__":
    fx.main()
