"""mcu_fixture - the floret firmware booted in QEMU (mps2-an385) as a
worker of a test's cluster, for the microcontroller tests.

Builds nothing: the firmware is built by the ctest fixture mcu_build
(scripts/mcu.sh build into FLORET_MCU_BUILD). Each Firmware runs
`scripts/mcu.sh run` under setpriv --pdeathsig so that QEMU dies with the
test, and reads the firmware's console: its log lines and the `stats:`
line it prints every --stats milliseconds (tasks executed, arena and
stack high-water marks, messages refused).

Depends on tests/integration/floret_fixture.py and the Python standard
library.
"""

import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import floret_fixture as fx  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MCU_SH = os.path.join(ROOT, "scripts", "mcu.sh")
MAX_MESSAGE = 8192


class Firmware:
    """One QEMU running the firmware as node `name` of cluster's broker."""

    def __init__(self, cluster, name, stats_ms=500, extra=()):
        self.name = name
        self.cluster = cluster
        self.log = os.path.join(cluster.workdir, "firmware-%s.log" % name)
        self.extra = list(extra)
        self.stats_ms = stats_ms
        self.proc = None
        self.start()

    def start(self):
        argv = ["bash", MCU_SH, "run", "--broker", self.cluster.url,
                "--name", self.name, "--stats", str(self.stats_ms)] + self.extra
        self.proc = fx.spawn(argv, self.log)

    def log_text(self):
        return fx.read_text(self.log)

    def alive(self):
        return self.proc.poll() is None

    def stats(self):
        """The last stats line as a dict of ints ({} before the first)."""
        lines = [l for l in self.log_text().splitlines() if l.startswith("stats: ")]
        if not lines:
            return {}
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])}

    def wait_stats(self, pred, timeout, what):
        return fx.wait_until(lambda: (lambda s: s if s and pred(s) else None)(self.stats()),
                             timeout, interval=0.1, what=what)

    def kill(self):
        return fx.stop_process(self.proc, sig=signal.SIGKILL, grace=5.0)

    def stop(self):
        return fx.stop_process(self.proc, sig=signal.SIGTERM, grace=5.0)


class McuTest(fx.ClusterTest):
    """A cluster (broker and POSIX nodes) plus firmware boards."""

    def start_cluster(self, nodes=(), node_args=()):
        c = super().start_cluster(nodes, node_args)
        self.boards = {}
        return c

    def add_board(self, name="mcu1", **kw):
        fw = Firmware(self.cluster, name, **kw)
        self.boards[name] = fw
        self.addCleanup(fw.stop)
        fx.wait_online(self.cluster.broker.port, [name], timeout=30)
        return fw

    def logs(self, limit=12000):
        parts = [super().logs(limit)]
        for name, fw in getattr(self, "boards", {}).items():
            parts.append("--- firmware %s console\n%s" % (name, fw.log_text()[-6000:]))
        return "\n".join(parts)


def main():
    fx.main()
