"""celery_driver.py - the Celery side of bench/compare: runs the workloads
against a running Celery worker (celery_app.py, Redis broker and backend)
from one client and prints one "key=value" line per workload:
throughput (--count add at once, all results back), latency (--rounds
sequential add.delay().get()), chord (--chord adds into xsum) and the word
count (a group of wc_chunk over --chunk byte pieces, merged here; the
listing for the equality check goes to --listing).
Run with /usr/bin/python3 (Debian's celery). Depends on celery_app.py,
wordcount_py.py and driver_args.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import driver_args  # noqa: E402
from driver_args import now  # noqa: E402

args = driver_args.parse("Celery workloads of bench/compare")
os.environ["CMP_REDIS_URL"] = args.url

from celery import chord, group  # noqa: E402
from celery.result import ResultSet  # noqa: E402

import celery_app  # noqa: E402
import wordcount_py  # noqa: E402

add, xsum, wc_chunk = celery_app.add, celery_app.xsum, celery_app.wc_chunk


def throughput():
    t0 = now()
    results = ResultSet([add.delay(i, i) for i in range(args.count)])
    values = results.get(timeout=args.timeout)
    dt = now() - t0
    if values != [2 * i for i in range(args.count)]:
        raise ValueError("wrong results")
    print("throughput tasks=%d seconds=%.3f tasks_per_s=%.0f"
          % (args.count, dt, args.count / dt))


def latency():
    seconds = []
    for i in range(args.warmup + args.rounds):
        t0 = now()
        v = add.delay(i, i).get(timeout=args.timeout)
        dt = now() - t0
        if v != 2 * i:
            raise ValueError("add(%d, %d) gave %r" % (i, i, v))
        if i >= args.warmup:
            seconds.append(dt)
    driver_args.latency_line(seconds)


def workflow():
    n = args.chord
    t0 = now()
    v = chord(add.s(i, i) for i in range(n))(xsum.s()).get(timeout=args.timeout)
    dt = now() - t0
    if v != n * (n - 1):
        raise ValueError("chord gave %r" % v)
    print("chord members=%d wall_s=%.4f" % (n, dt))


def wordcount():
    t0 = now()
    with open(args.corpus, "rb") as f:
        data = f.read()
    pieces = wordcount_py.chunks(data, args.chunk)
    partials = group(wc_chunk.s(p) for p in pieces).apply_async().get(timeout=args.timeout)
    counts = wordcount_py.merge(partials)
    dt = now() - t0
    print("wordcount bytes=%d chunks=%d words=%d distinct=%d seconds=%.3f mb_per_s=%.1f"
          % (len(data), len(pieces), sum(counts.values()), len(counts), dt,
             len(data) / 1e6 / dt))
    if args.listing:
        wordcount_py.write_listing(counts, args.listing)


# The worker may still be starting: one untimed task waits for it.
if not driver_args.step("ready", lambda: add.delay(0, 0).get(timeout=60)):
    sys.exit(3)
ok = True
if args.count > 0:
    ok &= driver_args.step("throughput", throughput)
if args.rounds > 0:
    ok &= driver_args.step("latency", latency)
if args.chord > 0:
    ok &= driver_args.step("chord", workflow)
if args.corpus:
    ok &= driver_args.step("wordcount", wordcount)
sys.exit(0 if ok else 1)
