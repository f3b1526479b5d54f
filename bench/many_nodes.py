#!/usr/bin/python3
"""many_nodes.py - what a floret cluster costs as it grows to hundreds of
nodes (docs/scaling.md, "Hundreds of nodes").

For each node count N (default 2, 50 and 200) and each build given with
--variant LABEL=BUILD_DIR (side by side, in one run), it starts a private
Mosquitto on a free loopback port ($SYS every second), N `floret node
--slots 1` processes and one more node, `idle`, that runs only `mul` and
so is never leased an `add`: it receives what every node receives whatever
it runs (presence, `work` announcements) and nothing else. Then one client
(bench/throughput) submits COUNT `add(i, i)` tasks and checks every result,
and one client (bench/canvas) runs a chord of CHORD `add` into `xsum`.

Recorded per run:
  spawn_s      start of the first node to the last process started (this
               script starts them one after the other)
  online_s     start of the first node to every presence seen online
  start_msgs   presence messages the broker delivered to one node (the
               observer) while the nodes started
  idle_rss_kib, idle_cpu_pct  median of the nodes, over 3 s of idle
  tasks_per_s  from bench/throughput (every result checked)
  owner_us     the client's CPU (user + system, from wait4) per task
  broker_msgs  messages the broker received + sent per task ($SYS),
               minus what the observer itself was sent
  idle_msgs    messages one idle node receives per submission (its inbox,
               `work` and `node/+`, counted by a subscriber to the same
               topics), during the burst
  work_msgs    `work` announcements per submission, during the burst
  busy_*       while client A keeps every slot busy with sleep(0.1) tasks
               for about 4 s (tests/integration/many_calls), client B
               (bench/throughput) submits add tasks one at a time from
               1.5 s on: its
               p50 round trip, and what the idle node receives (all of
               it, and `work` alone) per submission of B

  /usr/bin/python3 bench/many_nodes.py --variant after=build-bench \\
      [--variant before=/tmp/old/build] [--nodes 2,50,200] [--count 100000] \\
      [--chord 2000] [--runs 1] [--markdown]

Each BUILD_DIR is a CMake build (Release for figures) with the targets
floret, throughput, canvas and many_calls built:
  cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
  cmake --build build-rel -j2 --target floret throughput canvas many_calls
Raises ulimit -n to 2 * N + 200 if it can (the broker holds one socket
per node).
Exit status 1 when a client failed (a wrong or missing result).
Depends on Python 3, paho-mqtt and mosquitto (through
tests/integration/floret_fixture.py), and Linux's /proc.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import floret_fixture as fx  # noqa: E402

PREFIX = fx.PREFIX
TICK = os.sysconf("SC_CLK_TCK")


class Observer:
    """Counts what one idle node receives, and the broker's $SYS counters."""

    def __init__(self, port, idle):
        self.lock = threading.Lock()
        self.counts = {"work": 0, "presence": 0, "inbox": 0}
        self.online = {}
        self.first_online = None
        self.last_online = None
        self.sys = {}
        self.sys_at = {}
        self.own = 0
        self.idle_inbox = PREFIX + "node/%s/in" % idle
        self.client = fx.make_client("many-nodes-observer-%d" % os.getpid())
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        for topic in (PREFIX + "work", PREFIX + "node/+", self.idle_inbox,
                      "$SYS/broker/publish/messages/received",
                      "$SYS/broker/publish/messages/sent"):
            self.client.subscribe(topic, 0)

    def _on_message(self, client, ud, m):
        t = m.topic
        with self.lock:
            if t.startswith("$SYS/"):
                key = t.rsplit("/", 1)[1]
                self.sys[key] = int(m.payload)
                self.sys_at[key] = time.monotonic()
                return
            self.own += 1
            if t == PREFIX + "work":
                self.counts["work"] += 1
            elif t == self.idle_inbox:
                self.counts["inbox"] += 1
            else:
                self.counts["presence"] += 1
                try:
                    p = fx.parse_envelope(bytes(m.payload))
                except ValueError:
                    return
                if p.get("state") == "online" and p.get("slots", 0) > 0:
                    now = time.monotonic()
                    self.online[t] = now
                    self.first_online = self.first_online or now
                    self.last_online = now

    def snapshot(self):
        with self.lock:
            return dict(self.counts), dict(self.sys), self.own

    def wait_sys_after(self, when, timeout=5.0):
        """$SYS counters as of a moment after `when`. Mosquitto publishes a
        $SYS value once a second (sys_interval 1) when it changed; `sent`
        changes every time, since it counts the $SYS messages sent to us,
        and `received` comes in the same batch when it changed: so the
        first `sent` that arrives more than a second after `when` dates
        both."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.sys_at.get("sent", 0) > when + 1.0 and "received" in self.sys:
                    break
            time.sleep(0.02)
        else:
            raise RuntimeError("no $SYS counters from the broker")
        time.sleep(0.05)  # the rest of that batch
        with self.lock:
            return dict(self.sys)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_timed(argv, env, timeout):
    """Run a client with os.posix_spawn + wait4: (stdout, stderr, cpu_s, rc)."""
    tmp = tempfile.mkdtemp(prefix="floret-many-client-")
    outp, errp = os.path.join(tmp, "out"), os.path.join(tmp, "err")
    with open(outp, "wb") as o, open(errp, "wb") as e:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, o.fileno(), 1), (os.POSIX_SPAWN_DUP2, e.fileno(), 2)])
    killer = threading.Timer(timeout, lambda: os.kill(pid, 9))
    killer.start()
    try:
        _, status, ru = os.wait4(pid, 0)
    finally:
        killer.cancel()
    with open(outp) as f:
        out = f.read()
    with open(errp) as f:
        err = f.read()
    shutil.rmtree(tmp, ignore_errors=True)
    rc = os.waitstatus_to_exitcode(status)
    return out, err, ru.ru_utime + ru.ru_stime, rc


def kv(line):
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def one_run(label, build, n, args):
    floret = os.path.join(build, "floret")
    throughput = os.path.join(build, "bench", "throughput")
    canvas = os.path.join(build, "bench", "canvas")
    work = tempfile.mkdtemp(prefix="floret-many-nodes-")
    broker = fx.Broker(work, extra_conf=["sys_interval 1", "max_connections -1"])
    broker.start()
    obs = Observer(broker.port, "idle")
    env = dict(os.environ, FLORET_BROKER=broker.url)
    nodes = []
    r = {"variant": label, "nodes": n}
    try:
        time.sleep(0.3)
        t0 = time.monotonic()
        names = ["n%03d" % i for i in range(n)]
        for name in names:
            nodes.append(fx.Node(broker, name, work, ["--slots", "1", "-q"]))
        nodes.append(fx.Node(broker, "idle", work, ["--slots", "1", "--tasks", "mul", "-q"]))
        r["spawn_s"] = time.monotonic() - t0
        want = n + 1
        deadline = time.monotonic() + 120
        while len(obs.online) < want and time.monotonic() < deadline:
            time.sleep(0.02)
        if len(obs.online) < want:
            raise RuntimeError("%s: only %d of %d nodes online" % (label, len(obs.online), want))
        r["online_s"] = obs.last_online - t0
        time.sleep(2.0)  # what start-up still sends after the last online
        c0, _, _ = obs.snapshot()
        r["start_msgs"] = c0["presence"]
        # Idle: RSS and CPU of every node over 3 s.
        pids = [x.proc.pid for x in nodes]
        ticks0 = [proc_cpu_ticks(p) for p in pids]
        time.sleep(3.0)
        ticks1 = [proc_cpu_ticks(p) for p in pids]
        r["idle_cpu_pct"] = statistics.median(
            100.0 * (b - a) / TICK / 3.0 for a, b in zip(ticks0, ticks1))
        r["idle_rss_kib"] = statistics.median(proc_rss_kib(p) for p in pids)
        c1, _, _ = obs.snapshot()
        r["idle_msgs_3s"] = sum(c1.values()) - sum(c0.values())

        # The burst.
        s0 = obs.wait_sys_after(time.monotonic() - 1.0)
        b0, _, own0 = obs.snapshot()
        out, err, cpu, rc = run_timed(
            [throughput, "--count", str(args.count), "--rounds", "0",
             "--nodes", str(want), "--timeout", str(args.timeout)], env, args.timeout + 30)
        t_end = time.monotonic()
        b1, _, own1 = obs.snapshot()
        if rc != 0:
            raise RuntimeError("%s n=%d: throughput failed (%d): %s" % (label, n, rc, err[-2000:]))
        burst = [kv(l) for l in out.splitlines() if l.startswith("burst ")][0]
        s1 = obs.wait_sys_after(t_end)
        r["tasks_per_s"] = float(burst["tasks_per_s"])
        r["owner_us"] = cpu / args.count * 1e6
        msgs = (s1["received"] - s0["received"]) + (s1["sent"] - s0["sent"]) - (own1 - own0)
        r["broker_msgs"] = msgs / args.count
        if os.environ.get("MANY_NODES_DEBUG"):
            print("sys", s0, s1, own0, own1, file=sys.stderr)
        r["idle_msgs"] = (sum(b1.values()) - sum(b0.values())) / args.count
        r["work_msgs"] = (b1["work"] - b0["work"]) / args.count

        # The chord.
        time.sleep(1.0)
        s0 = obs.wait_sys_after(time.monotonic() - 1.0)
        h0, _, own0 = obs.snapshot()
        out, err, cpu, rc = run_timed(
            [canvas, "--chord", str(args.chord), "--group", "0",
             "--timeout", str(args.timeout)], env, args.timeout + 30)
        t_end = time.monotonic()
        h1, _, own1 = obs.snapshot()
        if rc != 0:
            raise RuntimeError("%s n=%d: canvas failed (%d): %s" % (label, n, rc, err[-2000:]))
        chord = [kv(l) for l in out.splitlines() if "workflow=chord" in l][0]
        s1 = obs.wait_sys_after(t_end)
        tasks = args.chord + 1
        r["chord_s"] = float(chord["wall_s"])
        r["chord_owner_us"] = cpu / tasks * 1e6
        msgs = (s1["received"] - s0["received"]) + (s1["sent"] - s0["sent"]) - (own1 - own0)
        r["chord_broker_msgs"] = msgs / tasks
        r["chord_idle_msgs"] = (sum(h1.values()) - sum(h0.values())) / tasks

        # Busy: every slot runs sleep(0.1) tasks for about 4 s (client A),
        # while client B submits add tasks one at a time, from 1.5 s on
        # (by then each worker's credit has shrunk to what 0.1 s tasks
        # need, so nobody has room to park at B).
        time.sleep(1.0)
        many_calls = os.path.join(build, "tests", "integration", "many_calls")
        busy_n = 40 * n
        a = subprocess.Popen([many_calls, "-n", str(busy_n), "--task", "sleep",
                              "--args", "[0.1]", "--expect", "0.1",
                              "--timeout", str(args.timeout)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.5)
        rounds = min(200, 10 * n)
        k0, _, _ = obs.snapshot()
        out, err, cpu, rc = run_timed(
            [throughput, "--count", "0", "--rounds", str(rounds), "--warmup", "0",
             "--nodes", str(want), "--timeout", str(args.timeout)], env, args.timeout + 30)
        k1, _, _ = obs.snapshot()
        _, a_err = a.communicate(timeout=args.timeout + 30)
        if rc != 0 or a.returncode != 0:
            raise RuntimeError("%s n=%d: busy phase failed (%d, %d): %s %s"
                               % (label, n, rc, a.returncode, err[-1000:], a_err[-1000:]))
        lat = [kv(l) for l in out.splitlines() if l.startswith("latency ")][0]
        r["busy_p50_ms"] = float(lat["p50_us"]) / 1e3
        r["busy_idle_msgs"] = (sum(k1.values()) - sum(k0.values())) / rounds
        r["busy_work_msgs"] = (k1["work"] - k0["work"]) / rounds
    finally:
        for x in nodes:
            try:
                x.proc.terminate()
            except ProcessLookupError:
                pass
        for x in nodes:
            fx.stop_process(x.proc, grace=10.0)
        obs.close()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    return r


COLUMNS = [
    ("variant", "build", "%s"),
    ("nodes", "nodes", "%d"),
    ("spawn_s", "processes started, s", "%.2f"),
    ("online_s", "all online, s", "%.2f"),
    ("start_msgs", "start-up presences to one node", "%d"),
    ("idle_rss_kib", "node RSS idle, KiB", "%d"),
    ("idle_cpu_pct", "node CPU idle, %", "%.2f"),
    ("tasks_per_s", "tasks/s", "%.0f"),
    ("owner_us", "owner CPU/task, µs", "%.2f"),
    ("broker_msgs", "broker msgs/task", "%.3f"),
    ("idle_msgs", "msgs to idle node/submission", "%.4f"),
    ("work_msgs", "`work`/submission", "%.4f"),
    ("chord_s", "chord 2000, s", "%.3f"),
    ("chord_owner_us", "chord owner CPU/task, µs", "%.1f"),
    ("chord_broker_msgs", "chord broker msgs/task", "%.3f"),
    ("chord_idle_msgs", "chord msgs to idle node/task", "%.4f"),
    ("busy_p50_ms", "busy: one task p50, ms", "%.1f"),
    ("busy_idle_msgs", "busy: msgs to idle node/submission", "%.3f"),
    ("busy_work_msgs", "busy: `work`/submission", "%.3f"),
]


def median_rows(rows):
    out = dict(rows[0])
    for k, _, _ in COLUMNS[2:]:
        out[k] = statistics.median(r[k] for r in rows)
    return out


def print_table(rows):
    print("| " + " | ".join(h for _, h, _ in COLUMNS) + " |")
    print("| " + " | ".join("---" if i < 1 else "---:" for i in range(len(COLUMNS))) + " |")
    for r in rows:
        print("| " + " | ".join(f % r[k] for k, _, f in COLUMNS) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", action="append", required=True,
                    help="LABEL=BUILD_DIR (repeatable; run side by side)")
    ap.add_argument("--nodes", default="2,50,200")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--chord", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=300)
    args = ap.parse_args()
    if not fx.FLORET_BIN:
        fx.FLORET_BIN = "unused"  # Node() takes the binary from the variant
    variants = []
    for v in args.variant:
        label, _, build = v.partition("=")
        if not build or not os.access(os.path.join(build, "floret"), os.X_OK):
            ap.error("--variant %s: no floret in %s" % (v, build))
        variants.append((label, os.path.abspath(build)))
    counts = [int(x) for x in args.nodes.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * max(counts) + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    rows = []
    for n in counts:
        runs = {label: [] for label, _ in variants}
        for i in range(args.runs):  # the builds alternate, run by run
            for label, build in variants:
                fx.FLORET_BIN = os.path.join(build, "floret")
                r = one_run(label, build, n, args)
                print("run " + " ".join("%s=%s" % (k, (f % r[k]))
                                        for k, _, f in COLUMNS), flush=True)
                runs[label].append(r)
        for label, _ in variants:
            rows.append(median_rows(runs[label]))
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print("many_nodes: FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
