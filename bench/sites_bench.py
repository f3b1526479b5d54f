#!/usr/bin/python3
"""sites_bench - what a Mosquitto bridge costs floret, side by side in one
run (docs/benchmarks.md, "Across a bridge"). Two sites built by
floret_sites.py, every worker node at site b; the same client program runs
at site b (one broker between client and nodes) and at site a (its
messages cross a's broker, the bridge and b's broker), alternating, against
the same nodes:

  - bench/throughput: a burst of --count add tasks (tasks/s with results)
    and --rounds single tasks one after the other (p50/p99 round trip);
  - floret wordcount --no-locality of a corpus (MB/s).

Prints one line per measurement and a table of medians and ratios
(bridge / one broker). Needs root. Depends on floret_sites.py, the build's
bench/throughput and floret, and the fortunes corpus (bench/corpus.sh's
source, /usr/share/games/fortunes).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

import floret_sites as fs

HERE = os.path.dirname(os.path.abspath(__file__))


def throughput(sites, letter, tp, count, rounds):
    s = sites.site(letter)
    r = subprocess.run(s.argv([tp, "--broker", "mqtt://127.0.0.1:%d" % fs.PORT,
                               "--count", str(count), "--rounds", str(rounds),
                               "--nodes", str(len(sites.site("b").nodes)),
                               "--timeout", "240"]),
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("throughput at site %s failed:\n%s" % (letter, r.stderr[-2000:]))
    out = {}
    for line in r.stdout.splitlines():
        for k, v in re.findall(r"(\w+)=([0-9.]+)", line):
            out[line.split()[0] + "." + k] = float(v)
    return out


def wordcount(sites, letter, corpus):
    r = sites.floret_at(letter, "wordcount", "--json", "--no-locality", corpus, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("wordcount at site %s failed:\n%s" % (letter, r.stderr[-2000:]))
    got = json.loads(r.stdout)
    return got["bytes"] / got["elapsed_s"] / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=2, help="worker nodes at site b")
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--corpus-copies", type=int, default=8,
                    help="the fortunes corpus (2.5 MB) this many times (default 8)")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build", "gcc"))
    a = ap.parse_args()
    tp = os.path.abspath(os.path.join(a.build, "bench", "throughput"))
    os.environ.setdefault("FLORET_BIN", os.path.abspath(os.path.join(a.build, "floret")))
    sites = fs.Sites(2, 0, a.slots)
    try:
        b = sites.site("b")
        names = ["b%d" % (i + 1) for i in range(a.nodes)]
        for n in names:
            sites.add_node(b, n, ["--slots", str(a.slots)])
        for s in sites.sites:
            sites.wait_online(s, names)
        corpus = os.path.join(sites.workdir, "corpus.txt")
        src = "/usr/share/games/fortunes"
        with open(corpus, "wb") as out:
            for _ in range(a.corpus_copies):
                for name in sorted(os.listdir(src)):
                    if name.endswith(".u8"):
                        with open(os.path.join(src, name), "rb") as f:
                            out.write(f.read())
        rows = {"one broker": [], "bridge": [], "bridge, no quickack": []}
        for run in range(a.runs):
            for label, letter in (("one broker", "b"), ("bridge", "a"),
                                  ("bridge, no quickack", "a")):
                sites.set_quickack(label == "bridge")
                t = throughput(sites, letter, tp, a.count, a.rounds)
                t["wc_mb_s"] = wordcount(sites, letter, corpus)
                rows[label].append(t)
                print("run %d %-19s tasks/s %.0f  p50 %.0f us  p99 %.0f us  wordcount %.1f MB/s"
                      % (run + 1, label, t["burst.tasks_per_s"], t["latency.p50_us"],
                         t["latency.p99_us"], t["wc_mb_s"]), flush=True)
        print("\n| figure (same nodes, same run) | one broker | across a bridge | bridge / one "
              "| bridge without quickack | that / one |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for key, name in (("burst.tasks_per_s", "%d add tasks, tasks/s with results" % a.count),
                          ("latency.p50_us", "one task round trip p50, µs"),
                          ("latency.p99_us", "one task round trip p99, µs"),
                          ("wc_mb_s", "wordcount --no-locality, MB/s")):
            one = statistics.median(r[key] for r in rows["one broker"])
            cells = ["%.1f" % one]
            for label in ("bridge", "bridge, no quickack"):
                br = statistics.median(r[key] for r in rows[label])
                ratios = [x[key] / y[key] for x, y in zip(rows[label], rows["one broker"])]
                cells += ["%.1f" % br, "%.2f (%.2f – %.2f)" % (
                    statistics.median(ratios), min(ratios), max(ratios))]
            print("| %s | %s |" % (name, " | ".join(cells)))
    finally:
        sites.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
