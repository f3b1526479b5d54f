#!/usr/bin/python3
"""broker_restart.py - what a broker outage costs a run, side by side with
the same run without one.

Starts a private Mosquitto on a free loopback port (the configuration
`floret local` writes) and NODES `floret node --slots 1` processes, then
runs the many_calls client (tests/integration/many_calls.c: TASKS calls of
sleep(SECONDS), each result checked, duplicates counted) twice: once clean,
once with the broker SIGKILLed when half the results are in and started
again on the same port OUTAGE seconds later. Prints both wall times, their
difference, and the counts (successes, pending, duplicate ids, changed
results) that say nothing was lost or delivered twice.

  /usr/bin/python3 bench/broker_restart.py --floret build/floret --many-calls \\
      build/tests/integration/many_calls [--tasks 8000] [--nodes 4] \\
      [--sleep 0.005] [--outage 2] [--runs 1]

Exit status 1 when a run lost, doubled or changed a result.
Depends on Python 3, paho-mqtt and mosquitto (through
tests/integration/floret_fixture.py and many_calls_driver.py).
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import floret_fixture as fx  # noqa: E402
from many_calls_driver import ManyCalls  # noqa: E402


class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="floret-bench-restart-")
        self.broker = fx.Broker(self.workdir).start()
        self.nodes = [fx.Node(self.broker, "b%d" % i, self.workdir, ["--slots", "1"])
                      for i in range(args.nodes)]
        fx.wait_online(self.broker.port, [n.name for n in self.nodes])
        self.url = self.broker.url

    def kill_broker(self):
        self.broker.proc.send_signal(signal.SIGKILL)
        self.broker.proc.wait(timeout=10)
        self.broker.proc = None

    def run(self, outage):
        a = self.args
        run = ManyCalls(self, a.tasks, task="sleep", args="[%s]" % a.sleep,
                        expect=a.sleep, timeout=a.timeout)
        t0 = time.monotonic()
        down_at = up_at = None
        if outage:
            run.wait_progress(a.tasks // 2, a.timeout)
            down_at = time.monotonic() - t0
            self.kill_broker()
            time.sleep(outage)
            self.broker.start()
            up_at = time.monotonic() - t0
        code, tasks, summary = run.finish(a.timeout + 30)
        wall = time.monotonic() - t0
        if outage:
            fx.wait_online(self.broker.port, [n.name for n in self.nodes])
        return {"wall": wall, "code": code, "tasks": len(tasks), "summary": summary,
                "down_at": down_at, "up_at": up_at, "stderr": run.stderr()}

    def close(self):
        for n in self.nodes:
            n.stop()
        self.broker.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def good(r, n):
    s = r["summary"]
    return (r["code"] == 0 and r["tasks"] == n and s.get("success") == n and
            s.get("pending") == 0 and s.get("duplicate_ids") == 0 and s.get("changed") == 0)


def show(label, r):
    s = r["summary"]
    extra = ""
    if r["down_at"] is not None:
        extra = "  (broker killed at %.2f s, back at %.2f s)" % (r["down_at"], r["up_at"])
    print("%-8s %7.2f s  success %s  pending %s  duplicate_ids %s  changed %s  exit %d%s" %
          (label, r["wall"], s.get("success"), s.get("pending"), s.get("duplicate_ids"),
           s.get("changed"), r["code"], extra))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--floret", required=True)
    p.add_argument("--many-calls", required=True)
    p.add_argument("--tasks", type=int, default=8000)
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--sleep", default="0.005")
    p.add_argument("--outage", type=float, default=2.0)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300)
    a = p.parse_args()
    fx.FLORET_BIN = os.path.abspath(a.floret)
    fx.MANY_CALLS_BIN = os.path.abspath(a.many_calls)
    import many_calls_driver
    many_calls_driver.fx.MANY_CALLS_BIN = fx.MANY_CALLS_BIN
    print("broker restart: %d x sleep(%s) on %d nodes of 1 slot, outage %.1f s, %s" %
          (a.tasks, a.sleep, a.nodes, a.outage, os.uname().nodename))
    ok = True
    b = Bench(a)
    try:
        for i in range(a.runs):
            clean = b.run(0)
            show("clean", clean)
            hit = b.run(a.outage)
            show("outage", hit)
            print("cost     %7.2f s  (target: at most outage + 5 s = %.1f s)" %
                  (hit["wall"] - clean["wall"], a.outage + 5))
            for label, r in (("clean", clean), ("outage", hit)):
                if not good(r, a.tasks):
                    ok = False
                    print("%s run lost, doubled or changed results:\n%s" %
                          (label, r["stderr"][-4000:]))
    finally:
        b.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
