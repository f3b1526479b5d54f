"""write_table.py - the table of bench/compare/run.sh: reads the figures of
every round (results.tsv: round, system, metric, value), each system's
status, the notes and the run's facts, and prints the compare section of
docs/benchmarks.md (markdown, between its begin/end markers): medians with
min-max, the ratio floret / peer computed round by round, the targets of
the comparison with met or missed, the broker's ceiling, the word-count
check and the raw figures.
Usage: write_table.py --results R --status S --notes N --meta M
Depends on the Python standard library only.
"""
import argparse
import statistics
from collections import defaultdict

PEERS = [
    ("celery", "Celery"),
    ("gearman", "Gearman"),
    ("dask", "Dask"),
]
# metric, column title, higher is better
COLUMNS = [
    ("tps", "throughput, tasks/s", True),
    ("p50_us", "round trip p50, µs", False),
    ("p99_us", "round trip p99, µs", False),
    ("chord_s", "chord, s", False),
    ("wc_mbps", "word count, MB/s", True),
    ("rss_idle_mib", "idle worker RSS, MiB", False),
]
# (text, peer, metric, "ge"/"le", bound)
TARGETS = [
    ("throughput ≥ 100× Celery", "celery", "tps", "ge", 100),
    ("throughput ≥ 10× Gearman", "gearman", "tps", "ge", 10),
    ("throughput ≥ 20× Dask", "dask", "tps", "ge", 20),
    ("p50 round trip ≤ 1/10 of Celery's", "celery", "p50_us", "le", 0.1),
    ("p50 round trip ≤ Gearman's", "gearman", "p50_us", "le", 1),
    ("chord ≥ 50× faster than Celery's", "celery", "chord_s", "le", 0.02),
    ("word count ≥ 10× Dask bag", "dask", "wc_mbps", "ge", 10),
    ("word count ≥ 10× the Celery version", "celery", "wc_mbps", "ge", 10),
    ("idle node RSS ≤ 1/10 of a Celery worker process", "celery", "rss_idle_mib", "le", 0.1),
    ("idle node RSS ≤ Gearman's worker", "gearman", "rss_idle_mib", "le", 1),
]


def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    return meta


def read_results(path):
    """{system: {metric: {round: value}}}, RSS converted to MiB."""
    data = defaultdict(lambda: defaultdict(dict))
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4 or not parts[3]:
                continue
            r, system, metric, value = int(parts[0]), parts[1], parts[2], float(parts[3])
            if metric.endswith("_kib"):
                metric, value = metric[:-4] + "_mib", value / 1024
            data[system][metric][r] = value
    # A worker's idle RSS is taken before each of its rounds; only the first
    # one is before any work. That one is "idle"; later ones are "idle after
    # the workloads" (allocator caches, buffers kept by the process).
    for metrics in data.values():
        rss = metrics.get("rss_worker_mib")
        if rss:
            first = min(rss)
            metrics["rss_idle_mib"] = {first: rss[first]}
            metrics["rss_after_mib"] = {r: v for r, v in rss.items() if r != first}
        pss = metrics.get("pss_worker_mib")
        if pss:
            first = min(pss)
            metrics["pss_idle_mib"] = {first: pss[first]}
    return data


def num(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 0.1:
        return "%.2f" % v
    return "%.3g" % v


def summary(values):
    """'median (min–max)' of a list, or '—'."""
    if not values:
        return "—"
    if len(values) == 1:
        return num(values[0])
    return "%s (%s–%s)" % (num(statistics.median(values)), num(min(values)), num(max(values)))


def ratios(a, b):
    """a/b round by round, for the rounds that have both."""
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--meta", required=True)
    a = ap.parse_args()
    meta = read_meta(a.meta)
    data = read_results(a.results)
    status = {}
    with open(a.status, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            status[k] = v
    with open(a.notes, encoding="utf-8") as f:
        notes = [line.rstrip("\n") for line in f if line.strip()]

    fl = data["floret"]
    out = []
    w = out.append
    w("<!-- compare:begin (written by bench/compare/run.sh; edits here are overwritten) -->")
    w("## Side by side: Celery, Gearman, Dask")
    w("")
    w("- Date: %s. Source: commit %s. Command: `%s` (%s s in all, installs and build "
      "included)." % (meta["date"], meta.get("source", "?"), meta["command"], meta["seconds"]))
    w("- Machine: %s. **Shared** with other builds and tests while it ran, so absolute "
      "figures move between runs; compare the same-round ratios, and re-run if a "
      "figure looks disturbed." % meta["machine"])
    w("- Versions (Debian 12 packages): %s." % meta["versions"])
    w("- Setup, every system on its own loopback ports, all on this machine: floret = a "
      "private mosquitto and 2 `floret node` processes with 1 slot each, the client a "
      "0-slot node; Celery = redis-server (broker and result backend) and one worker, "
      "prefork concurrency 2, pickle serializer; Gearman = gearmand (default threads) and "
      "2 single-threaded C worker processes (`bench/compare/gearman_worker.c`, libgearman); "
      "Dask = a LocalCluster of 2 worker processes with 1 thread each.")
    w("- Workloads, one client each, every answer checked: %s `add(i, i)` submitted at "
      "once, time until every result is back; %s sequential `add` round trips (after %s "
      "untimed), p50/p99; a chord of %s `add` into a sum (Gearman has no workflows: its "
      "client sums); a word count of %s (DESIGN.md's tokenizer everywhere; chunk bytes: %s; "
      "floret and Dask workers read the file themselves, Celery and Gearman get the bytes "
      "through their server); the RSS of one idle worker process (floret: one `floret "
      "node`; Celery: the main worker process; Gearman: one worker; Dask: one worker "
      "process), taken once the system is up and before its first workload (one "
      "figure: it barely moves between samples)."
      % (meta["count"], meta["rounds"], meta["warmup"], meta["chord"], meta["corpus"],
         meta["chunks"]))
    w("- %s round%s; in each round every system runs every workload, one system after the "
      "other, in an order rotated every round; while one peer is measured the other peers "
      "are paused (SIGSTOP; floret's idle broker and nodes stay up). Cells: median (min–max) "
      "over the rounds; "
      "ratios are floret ÷ peer computed within each round, then the median (min–max)."
      % (meta["runs"], "" if meta["runs"] == "1" else "s"))
    w("")

    # ---- the main table
    w("| system | " + " | ".join(t for _, t, _ in COLUMNS) + " |")
    w("| --- |" + " ---: |" * len(COLUMNS))

    def system_row(label, d):
        return "| %s | " % label + " | ".join(summary(list(d[m].values())) for m, _, _ in COLUMNS) + " |"

    if status.get("floret") == "ok":
        w(system_row("**floret**", fl))
    else:
        w("| **floret** | %s |" % status.get("floret") + " |" * (len(COLUMNS) - 1))
    for key, name in PEERS:
        st = status.get(key, "not run")
        if st != "ok" and not data.get(key):
            w("| %s | %s |" % (name, st) + " |" * (len(COLUMNS) - 1))
            continue
        d = data[key]
        w(system_row(name + ("" if st == "ok" else " (%s)" % st), d))
        cells = [summary(ratios(fl[m], d[m])) for m, _, _ in COLUMNS]
        w("| ↳ floret ÷ %s | " % name + " | ".join(cells) + " |")
    w("")

    # ---- targets
    w("Targets (floret ÷ peer, same rounds; met when the median meets the bound):")
    w("")
    w("| target | bound on floret ÷ peer | measured | met |")
    w("| --- | ---: | ---: | --- |")
    for text, peer, metric, op, bound in TARGETS:
        rs = ratios(fl[metric], data.get(peer, {}).get(metric, {})) if peer in data else []
        if not rs:
            w("| %s | %s %s | — | not measured (%s) |"
              % (text, "≥" if op == "ge" else "≤", num(bound), status.get(peer, "not run")))
            continue
        m = statistics.median(rs)
        met = m >= bound if op == "ge" else m <= bound
        every = all((x >= bound if op == "ge" else x <= bound) for x in rs)
        verdict = "**yes**" if met and every else ("yes (median only)" if met else "**no**")
        w("| %s | %s %s | %s | %s |" % (text, "≥" if op == "ge" else "≤", num(bound),
                                        summary(rs), verdict))
    w("")

    # ---- the ceiling
    br = data.get("broker", {})
    w("The broker's ceiling in the same rounds (`bench/pingpong`: a libmosquitto pair on "
      "floret's mosquitto; %s messages of 64 bytes flooded at QoS 0; %s sequential QoS 1 "
      "ping-pongs):" % (meta["raw_count"], meta["rounds"]))
    w("")
    w("| figure | median (min–max) |")
    w("| --- | ---: |")
    w("| broker: raw flood, msg/s received | %s |" % summary(list(br.get("raw_msgs", {}).values())))
    w("| broker: ping-pong p50, µs | %s |" % summary(list(br.get("p50_us", {}).values())))
    w("| broker: ping-pong p99, µs | %s |" % summary(list(br.get("p99_us", {}).values())))
    w("| floret tasks/s ÷ broker msg/s | %s |" % summary(ratios(fl["tps"], br.get("raw_msgs", {}))))
    w("| floret p50 ÷ broker ping-pong p50 | %s |" % summary(ratios(fl["p50_us"], br.get("p50_us", {}))))
    w("| floret p99 ÷ broker ping-pong p99 | %s |" % summary(ratios(fl["p99_us"], br.get("p99_us", {}))))
    w("")

    # ---- details
    w("Also measured:")
    w("")
    w("- floret word count with every chunk sent through the broker (`--no-locality`, as "
      "Celery and Gearman must): %s MB/s; ÷ Celery %s, ÷ Gearman %s, ÷ Dask %s."
      % (summary(list(fl["wc_bytes_mbps"].values())),
         summary(ratios(fl["wc_bytes_mbps"], data.get("celery", {}).get("wc_mbps", {}))),
         summary(ratios(fl["wc_bytes_mbps"], data.get("gearman", {}).get("wc_mbps", {}))),
         summary(ratios(fl["wc_bytes_mbps"], data.get("dask", {}).get("wc_mbps", {})))))
    server = [summary(list(data.get(s, {}).get("rss_server_mib", {}).values()))
              for s in ("floret", "celery", "gearman", "dask")]
    child = summary(list(data.get("celery", {}).get("rss_child_mib", {}).values()))
    w("- Server process RSS, MiB: mosquitto %s; redis-server %s; gearmand %s; the Dask "
      "process holding the scheduler and nannies %s. Celery's prefork pool child: %s MiB "
      "(a Celery worker with concurrency 2 is three processes)." % tuple(server + [child]))
    after = [summary(list(data.get(s, {}).get("rss_after_mib", {}).values()))
             for s in ("floret", "celery", "gearman", "dask")]
    w("- The same worker process idle again between rounds, after the workloads (word "
      "count included), RSS MiB: floret %s; Celery %s; Gearman %s; Dask %s." % tuple(after))
    pss = [summary(list(data.get(s, {}).get("pss_idle_mib", {}).values()))
           for s in ("floret", "celery", "gearman", "dask")]
    w("- PSS of the same idle worker (its shared library pages divided among the "
      "processes that map them), MiB: floret %s; Celery %s; Gearman %s; Dask %s." % tuple(pss))
    checks = []
    for key, name in [("floret", "floret")] + PEERS:
        eq = data.get(key, {}).get("wc_equal", {})
        if eq:
            checks.append("%s %d of %d rounds" % (name, int(sum(eq.values())), len(eq)))
    w("- Word counts equal to `bench/wc_single --all` (the listing `sort | uniq -c` "
      "prints; sha256 %s): %s." % (meta["reference_sha"][:16] + "…", ", ".join(checks) or "none"))
    if notes:
        w("- Problems during the run:")
        for n in notes:
            w("  - %s" % n)
    else:
        w("- No workload failed or timed out.")
    w("")

    # ---- raw
    w("Raw figures, round by round:")
    w("")
    w("| round | system | tasks/s | p50 µs | p99 µs | chord s | word count MB/s | idle worker RSS MiB (before the round) |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rounds = sorted({r for s in data.values() for m in s.values() for r in m})
    for r in rounds:
        for key, name in [("floret", "floret")] + PEERS:
            d = data.get(key)
            if not d:
                continue
            raw = [m for m, _, _ in COLUMNS[:-1]] + ["rss_worker_mib"]
            cells = [num(d[m][r]) if r in d.get(m, {}) else "—" for m in raw]
            w("| %d | %s | %s |" % (r, name, " | ".join(cells)))
        if "broker" in data:
            b = data["broker"]
            cells = [num(b[m][r]) if r in b.get(m, {}) else "—" for m in ("raw_msgs", "p50_us", "p99_us")]
            w("| %d | broker (msg/s, ping-pong) | %s | — | — | — |" % (r, " | ".join(cells)))
    w("<!-- compare:end -->")
    print("\n".join(out))


if __name__ == "__main__":
    main()
