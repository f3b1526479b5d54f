"""dask_driver.py - the Dask side of bench/compare: connects a Client to the
running dask_cluster.py and runs the workloads, one "key=value" line each:
throughput (client.map of --count add, gathered), latency (--rounds
sequential submit().result()), chord (--chord adds whose futures feed one
xsum task) and the word count with dask.bag (read_text in --chunk byte
blocks, read by the workers; a per-partition Counter, merged by a tree
reduction; the listing for the equality check goes to --listing).
Run with /usr/bin/python3 (Debian's dask). Depends on wordcount_py.py and
driver_args.py, which the workers import too (PYTHONPATH).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import driver_args  # noqa: E402
from driver_args import now  # noqa: E402

args = driver_args.parse("Dask workloads of bench/compare")

import dask.bag as db  # noqa: E402
from dask.distributed import Client  # noqa: E402

import wordcount_py  # noqa: E402


def add(x, y):
    return x + y


def xsum(xs):
    return sum(xs)


def count_partition(lines):
    # latin-1 maps bytes to code points one to one, so this is the bytes.
    return wordcount_py.count_bytes("".join(lines).encode("latin-1"))


client = Client(args.url, timeout=30)


def throughput():
    n = args.count
    t0 = now()
    futures = client.map(add, range(n), range(n), pure=False)
    values = client.gather(futures)
    dt = now() - t0
    if values != [2 * i for i in range(n)]:
        raise ValueError("wrong results")
    del futures
    print("throughput tasks=%d seconds=%.3f tasks_per_s=%.0f" % (n, dt, n / dt))


def latency():
    seconds = []
    for i in range(args.warmup + args.rounds):
        t0 = now()
        v = client.submit(add, i, i, pure=False).result(timeout=args.timeout)
        dt = now() - t0
        if v != 2 * i:
            raise ValueError("add(%d, %d) gave %r" % (i, i, v))
        if i >= args.warmup:
            seconds.append(dt)
    driver_args.latency_line(seconds)


def workflow():
    n = args.chord
    t0 = now()
    members = client.map(add, range(n), range(n), pure=False)
    v = client.submit(xsum, members, pure=False).result(timeout=args.timeout)
    dt = now() - t0
    if v != n * (n - 1):
        raise ValueError("chord gave %r" % v)
    print("chord members=%d wall_s=%.4f" % (n, dt))


def wordcount():
    size = os.path.getsize(args.corpus)
    t0 = now()
    bag = db.read_text(args.corpus, blocksize=args.chunk, encoding="latin-1")
    counts = bag.reduction(count_partition, wordcount_py.merge).compute()
    dt = now() - t0
    print("wordcount bytes=%d chunks=%d words=%d distinct=%d seconds=%.3f mb_per_s=%.1f"
          % (size, bag.npartitions, sum(counts.values()), len(counts), dt,
             size / 1e6 / dt))
    if args.listing:
        wordcount_py.write_listing(counts, args.listing)


if not driver_args.step("ready", lambda: client.submit(add, 0, 0, pure=False).result(60)):
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
client.close()
sys.exit(0 if ok else 1)
