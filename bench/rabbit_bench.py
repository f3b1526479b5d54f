#!/usr/bin/python3
"""rabbit_bench - what a three-member RabbitMQ cluster costs floret against
one Mosquitto, side by side in one run (docs/benchmarks.md, "A clustered
broker"). Two worker nodes and one client program each time:

  - one Mosquitto: nodes and client on the same broker;
  - RabbitMQ (Debian's rabbitmq-server with its MQTT plugin, the cluster
    tests/integration/rabbit_fixture.py builds): the workers on members 2
    and 3, the client on member 1, so every message crosses the cluster.

The client programs, alternating between the two setups, --runs times:
bench/throughput (a burst of --count add tasks, tasks/s with results, and
--rounds single tasks one after the other, p50/p99 round trip) and
floret wordcount --no-locality of a corpus (MB/s). Prints one line per
measurement and a table of medians and ratios (RabbitMQ / Mosquitto).
Everything runs on loopback and is stopped at the end. Depends on the
build's floret and bench/throughput, tests/integration's fixtures,
mosquitto, rabbitmq-server and the fortunes corpus (/usr/share/games/fortunes).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


class At:
    """What a node needs of a broker: its URL."""

    def __init__(self, url):
        self.url = url


def throughput(tp, url, count, rounds):
    r = subprocess.run([tp, "--broker", url, "--count", str(count), "--rounds", str(rounds),
                        # 0: no wait for presences, which RabbitMQ does not
                        # hand a new subscriber (docs/scaling.md); the nodes
                        # are online already
                        "--nodes", "0", "--timeout", "240"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("throughput on %s failed:\n%s" % (url, r.stderr[-2000:]))
    out = {}
    for line in r.stdout.splitlines():
        for k, v in re.findall(r"(\w+)=([0-9.]+)", line):
            out[line.split()[0] + "." + k] = float(v)
    return out


def wordcount(floret, url, corpus):
    env = dict(os.environ, FLORET_BROKER=url)
    r = subprocess.run([floret, "wordcount", "--json", "--no-locality", corpus], env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("wordcount on %s failed:\n%s" % (url, r.stderr[-2000:]))
    got = json.loads(r.stdout)
    return got["bytes"] / got["elapsed_s"] / 1e6, got["words"]


def make_corpus(path, copies):
    src = "/usr/share/games/fortunes"
    with open(path, "wb") as out:
        for _ in range(copies):
            for name in sorted(os.listdir(src)):
                if name.endswith(".u8"):
                    with open(os.path.join(src, name), "rb") as f:
                        out.write(f.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--corpus-copies", type=int, default=4,
                    help="the fortunes corpus (2.5 MB) this many times (default 4)")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build", "gcc"))
    a = ap.parse_args()
    floret = os.path.abspath(os.path.join(a.build, "floret"))
    tp = os.path.abspath(os.path.join(a.build, "bench", "throughput"))
    os.environ["FLORET_BIN"] = floret
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
    import floret_fixture as fx
    import rabbit_fixture as rf

    workdir = tempfile.mkdtemp(prefix="floret-rabbit-bench-")
    corpus = os.path.join(workdir, "corpus.txt")
    make_corpus(corpus, a.corpus_copies)
    mosq = fx.Broker(workdir).start()
    rabbit = rf.RabbitCluster(3)
    print("RabbitMQ cluster of 3 formed in %.1f s" % rabbit.start_seconds, flush=True)
    nodes = []
    try:
        m = rabbit.members
        setups = {"Mosquitto": (mosq.url, [mosq.url, mosq.url]),
                  "RabbitMQ": (m[0].url, [m[1].url, m[2].url])}
        for label, (_, worker_urls) in setups.items():
            for i, url in enumerate(worker_urls):
                name = "%s%d" % (label[0].lower(), i + 2)
                nodes.append(fx.Node(At(url), name, workdir, ["--slots", str(a.slots)]))
        fx.wait_until(lambda: all("online:" in n.log_text() for n in nodes), 60,
                      what="the worker nodes online")
        rows = {label: [] for label in setups}
        words = set()
        for run in range(a.runs):
            order = list(setups) if run % 2 == 0 else list(reversed(list(setups)))
            for label in order:
                url = setups[label][0]
                t = throughput(tp, url, a.count, a.rounds)
                t["wc_mb_s"], w = wordcount(floret, url, corpus)
                words.add(w)
                rows[label].append(t)
                print("run %d %-9s tasks/s %.0f  p50 %.0f us  p99 %.0f us  wordcount %.1f MB/s"
                      % (run + 1, label, t["burst.tasks_per_s"], t["latency.p50_us"],
                         t["latency.p99_us"], t["wc_mb_s"]), flush=True)
        if len(words) != 1:
            raise RuntimeError("the word counts differ between runs: %s" % sorted(words))
        print("\n| figure (same run) | one Mosquitto | RabbitMQ, 3 members | ratio, median "
              "(min - max) |")
        print("| --- | ---: | ---: | ---: |")
        for key, name in (("burst.tasks_per_s", "%d add tasks, tasks/s with results" % a.count),
                          ("latency.p50_us", "one task round trip p50, us"),
                          ("latency.p99_us", "one task round trip p99, us"),
                          ("wc_mb_s", "wordcount --no-locality, MB/s")):
            one = statistics.median(r[key] for r in rows["Mosquitto"])
            rab = statistics.median(r[key] for r in rows["RabbitMQ"])
            ratios = [x[key] / y[key] for x, y in zip(rows["RabbitMQ"], rows["Mosquitto"])]
            print("| %s | %.1f | %.1f | %.2f (%.2f - %.2f) |" % (
                name, one, rab, statistics.median(ratios), min(ratios), max(ratios)))
    finally:
        for n in nodes:
            n.stop()
        rabbit.close()
        mosq.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
