"""driver_args.py - what the Python drivers of bench/compare share: their
command line (the same workload options as gearman_client.c), the clock,
percentiles and the "fail step=... reason=..." convention: a failed or
wrong workload is reported and the driver goes on with the next one.
Depends on the Python standard library only.
"""
import argparse
import sys
import time
import traceback

now = time.perf_counter


def parse(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", required=True, help="broker / scheduler address")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--chord", type=int, default=1000)
    p.add_argument("--corpus")
    p.add_argument("--chunk", type=int, default=4 << 20)
    p.add_argument("--listing")
    p.add_argument("--timeout", type=float, default=240)
    return p.parse_args()


def percentile(sorted_values, q):
    i = int(q * (len(sorted_values) - 1) + 0.5)
    return sorted_values[min(i, len(sorted_values) - 1)]


def step(name, fn, *args):
    """Run one workload; say which failed and why. True when it passed."""
    try:
        fn(*args)
        sys.stdout.flush()
        return True
    except Exception as e:  # any failure is a result to report, not a crash
        reason = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")[:200]
        print("fail step=%s reason=%s" % (name, reason.replace(" ", "_")), flush=True)
        traceback.print_exc(file=sys.stderr)
        return False


def latency_line(seconds):
    us = sorted(s * 1e6 for s in seconds)
    print("latency rounds=%d p50_us=%.1f p99_us=%.1f"
          % (len(us), percentile(us, 0.50), percentile(us, 0.99)))
