#!/usr/bin/env python3
"""test_mcu_wordcount - `floret wordcount` on a cluster of the firmware
and a POSIX node gives exactly the reference pipeline's counts
(docs/wordcount.md), with the board counting chunks that fit its 8 KiB
message limit (--chunk 1k, the chunks' bytes sent through the broker).

The board is the only worker when the count starts, so it surely takes
chunks (a fast POSIX node that is there from the first moment may drain a
small count before the board's first fetch lands); the POSIX node joins
while the count runs (whether it gets chunks is reported, not required). The input is real text (Debian's
fortunes) with mixed case, digits and bytes >= 0x80 (UTF-8 and invalid).
Depends on mcu_fixture, bash and coreutils.
"""

import json
import os
import subprocess

import mcu_fixture as mf
from mcu_fixture import fx

FORTUNES = "/usr/share/games/fortunes"


def reference(path):
    cmd = ("LC_ALL=C tr -cs 'A-Za-z0-9\\200-\\377' '\\n' < \"$1\" | LC_ALL=C tr 'A-Z' 'a-z' "
           "| LC_ALL=C grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c")
    return subprocess.run(["bash", "-c", cmd, "ref", path], check=True,
                          capture_output=True).stdout


def make_input(path, size=128 * 1024):
    data = bytearray()
    for name in sorted(os.listdir(FORTUNES)):
        p = os.path.join(FORTUNES, name)
        if os.path.isfile(p) and "." not in name:
            with open(p, "rb") as f:
                data += f.read()
        if len(data) >= size:
            break
    data = data[:size]
    data += "\nÉcole ÉCOLE naïve Straße 2026 x86_64 \xff\xfe\x80 ABC abc\n".encode("utf-8", "surrogateescape")
    data += b"\xff\xfe\x80 ABC\x00abc \xc3\n" * 20
    with open(path, "wb") as f:
        f.write(data)


class WordcountTest(mf.McuTest):
    def test_board_and_node_count_exactly(self):
        c = self.start_cluster(())
        fw = self.add_board("mcu1", stats_ms=200)
        path = os.path.join(c.workdir, "input.txt")
        make_input(path)
        want = reference(path)
        self.assertGreater(len(want), 1000)
        out_path = os.path.join(c.workdir, "counts.txt")
        with open(out_path, "wb") as out:
            run = subprocess.Popen([fx.FLORET_BIN, "wordcount", "--chunk", "1k", "--no-locality",
                                    "--all", path], env=c.env(), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.PIPE)
            self.addCleanup(lambda: run.poll() is None and run.kill())
            fw.wait_stats(lambda s: s["executed"] >= 1, 60, "the board counting a chunk")
            c.add_node("p1", ["--slots", "1"])
            _, err = run.communicate(timeout=180)
        self.assertEqual(run.returncode, 0, err.decode() + self.logs())
        with open(out_path, "rb") as f:
            got = f.read()
        self.assertEqual(got, want, "counts differ from the reference pipeline" + self.logs())
        st = fw.wait_stats(lambda s: s["held"] == 0, 10, "the board idle")
        self.assertGreaterEqual(st["executed"], 1, st)
        self.assertEqual(st["arena_failures"], 0, st)
        self.assertEqual(st["too_big"], 0, st)
        chunks = (os.path.getsize(path) + 1023) // 1024
        # What the POSIX node counted, from its stats: reported, not
        # required. It joins while the board already has the owner's work
        # parked, and an owner that has a parked worker announces nothing,
        # so a node that joins late may never hear of this count.
        r = c.floret("status", "--json", "--wait", "2500")
        by_p1 = sum(p.get("counters", {}).get("executed", 0)
                    for p in json.loads(r.stdout or "[]") if p["id"] == "p1")
        print("the board counted %d of %d chunks, p1 %d" % (st["executed"], chunks, by_p1))

if __name__ == "__main__":
    mf.main()
