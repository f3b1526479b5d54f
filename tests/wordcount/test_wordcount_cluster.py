#!/usr/bin/env python3
"""test_wordcount_cluster - floret wordcount when things go wrong, on real
brokers and real nodes (tests/integration/floret_fixture.py):

- a node SIGKILLed in the middle of a count: the count is still exact;
- Ctrl-C (SIGINT) during a count on the embedded local cluster: no process
  and no temporary file is left behind;
- a node that cannot see the input file (its own mount namespace, as on
  another machine) answers NotLocal and the client sends those chunks'
  bytes instead: the count is exact either way;
- a node with a small --max-message (a board) gets the tail of the input
  in chunks it can take, and the count stays exact;
- wc.file refuses a stale or foreign reference with a clear error;
- wc.file reads only regular files below the node's --data-dir, never
  through a symbolic link out of it, never opens a FIFO, and says the same
  "not readable here" whatever the reason: given the exact size, mtime and
  sample of a file outside its directories, it still counts nothing.

The reference counts come from the pipeline of docs/wordcount.md.
Depends on floret_fixture, bash, coreutils, util-linux (unshare, setpriv).
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import floret_fixture as fx  # noqa: E402

CORPUS_SH = os.path.join(HERE, "..", "..", "bench", "corpus.sh")


def reference(path):
    """The reference pipeline's output for path, as bytes."""
    script = ("LC_ALL=C tr -cs 'A-Za-z0-9\\200-\\377' '\\n' < \"$1\" | LC_ALL=C tr 'A-Z' 'a-z'"
              " | LC_ALL=C grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c")
    return subprocess.run(["bash", "-c", script, "ref", path], check=True,
                          capture_output=True, timeout=120).stdout


def descendants(pid):
    """Every live process below pid (via /proc/*/stat parent links)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:].split()[0] != b"Z"


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


class WordcountClusterTest(fx.ClusterTest):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="floret-wc-")
        cls.slice = os.path.join(cls.dir, "slice")
        subprocess.run(["bash", CORPUS_SH, "--slice", cls.slice], check=True,
                       capture_output=True, timeout=120)
        # 8 slices: enough work that a node dies while holding leases.
        cls.big = os.path.join(cls.dir, "big")
        with open(cls.big, "wb") as out, open(cls.slice, "rb") as f:
            data = f.read()
            for _ in range(8):
                out.write(data)
        cls.ref_slice = reference(cls.slice)
        cls.ref_big = reference(cls.big)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def wordcount(self, *args, timeout=120):
        return self.cluster.floret("wordcount", *args, timeout=timeout)

    def test_sigkill_a_node_mid_count(self):
        c = self.start_cluster(("w1", "w2"), ["--slots", "1"])
        p = subprocess.Popen([fx.FLORET_BIN, "wordcount", "--all", "--no-locality",
                              "--chunk", "16k", self.big], env=c.env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            time.sleep(0.2)
            self.assertIsNone(p.poll(), "the count ended before the kill; too fast to test")
            c.nodes["w2"].kill()
            out, err = p.communicate(timeout=150)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, err.decode() + self.logs())
        self.assertTrue(out == self.ref_big, "counts differ after the kill" + self.logs())
        self.assertTrue(c.nodes["w1"].alive(), "w1 died" + self.logs())

    def test_ctrl_c_leaves_nothing_behind(self):
        tmp = tempfile.mkdtemp(prefix="floret-wc-tmp-", dir=self.dir)
        env = dict(os.environ)
        env.pop("FLORET_BROKER", None)
        env["TMPDIR"] = tmp
        # Standard input that never ends: the count is surely running.
        r, w = os.pipe()
        p = subprocess.Popen([fx.FLORET_BIN, "wordcount", "--nodes", "2", "-"], env=env,
                             stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        os.close(r)
        try:
            with open(self.slice, "rb") as f:
                os.write(w, f.read(1 << 16))
            kids = fx.wait_until(lambda: [k for k in descendants(p.pid)
                                          if "floret" in cmdline(k) and " node " in cmdline(k)],
                                 30, what="the embedded nodes")
            kids = descendants(p.pid)
            self.assertTrue(any("mosquitto" in cmdline(k) for k in kids), kids)
            self.assertTrue(os.listdir(tmp), "the local cluster made no temp dir")
            os.killpg(p.pid, signal.SIGINT)
            p.communicate(timeout=30)
        finally:
            os.close(w)
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, -signal.SIGINT)
        fx.wait_until(lambda: not any(alive(k) for k in kids), 10,
                      what="the cluster's processes to go")
        self.assertEqual(os.listdir(tmp), [], "temp files left behind")

    def test_node_without_the_file_gets_the_bytes(self):
        # "far" sees an empty tmpfs over the input's directory, like a node
        # on another machine; "near" sees the file.
        c = self.start_cluster(("near",), ["--slots", "1", "--data-dir", self.dir])
        far_log = os.path.join(c.workdir, "node-far.log")
        script = ('mount -t tmpfs none "$1" && exec "$2" node --broker "$3" --name far '
                  '--slots 1 --data-dir "$1"')
        far = fx.spawn(["unshare", "--mount", "--map-root-user", "--propagation", "private",
                        "sh", "-c", script, "far", self.dir, fx.FLORET_BIN, c.url], far_log)
        try:
            fx.wait_online(c.broker.port, ["far"])
        except AssertionError:
            self.fail("the node in its own mount namespace did not start:\n" +
                      fx.read_text(far_log))
        r = self.wordcount("--all", "--chunk", "64k", self.slice)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertTrue(r.stdout.encode() == self.ref_slice, "counts differ" + self.logs())
        r = self.wordcount("--json", "--chunk", "64k", self.slice)
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(sum(rep["tasks_per_node"].values()), rep["chunks"], rep)
        self.assertGreater(rep["chunks_sent"], 0, rep)
        self.assertGreater(rep["chunks_read_by_nodes"], 0, rep)
        self.assertGreater(rep["tasks_per_node"].get("far", 0), 0, rep)
        # Only the far node: every chunk falls back, still exact.
        c.nodes["near"].stop()
        r = self.wordcount("--all", "--chunk", "256k", self.slice)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.encode() == self.ref_slice, "counts differ (far only)")
        fx.stop_process(far)

    def test_a_small_node_gets_chunks_it_can_take(self):
        # "small" takes 16 KiB messages and runs only wc.map, like a board:
        # the tail of the input comes in chunks it can take, and the count
        # is exact, by reference or by bytes.
        c = self.start_cluster(("big",), ["--slots", "1", "--data-dir", self.dir])
        c.add_node("small", ["--slots", "1", "--max-message", "16384",
                             "--tasks", "wc.map"])
        fx.wait_online(c.broker.port, ["small"])
        for extra in ((), ("--no-locality",)):
            r = self.wordcount("--json", *extra, self.slice)
            self.assertEqual(r.returncode, 0, r.stderr + self.logs())
            rep = json.loads(r.stdout)
            self.assertGreater(rep["tasks_per_node"].get("small", 0), 0, rep)
            self.assertGreater(rep["tasks_per_node"].get("big", 0), 0, rep)
            r = self.wordcount("--all", *extra, self.slice)
            self.assertEqual(r.returncode, 0, r.stderr + self.logs())
            self.assertTrue(r.stdout.encode() == self.ref_slice,
                            "counts differ %s" % (extra,) + self.logs())
        self.assertNotIn("TooBig", c.nodes["small"].log_text())

    def test_wc_file_refuses_what_it_cannot_prove(self):
        c = self.start_cluster(("w1",), ["--slots", "1", "--data-dir", self.dir])
        st = os.stat(self.slice)
        good = {"path": self.slice, "offset": 0, "length": 100, "size": st.st_size,
                "mtime_s": st.st_mtime_ns // 10**9, "mtime_ns": st.st_mtime_ns % 10**9,
                "sample": "0" * 16}
        cases = [
            ({}, "NotLocal", "not readable here"),  # the sample is wrong
            ({"size": st.st_size + 1}, "NotLocal", "not readable here"),
            ({"mtime_ns": (st.st_mtime_ns + 1) % 10**9}, "NotLocal", "not readable here"),
            ({"path": self.slice + ".gone"}, "NotLocal", "not readable here"),
            ({"path": self.dir}, "NotLocal", "not readable here"),
            ({"path": "slice"}, "ValueError", "absolute path"),
            ({"offset": st.st_size}, "ValueError", "outside a file"),
            ({"sample": "xyz"}, "ValueError", "hex digits"),
            ({"length": "10"}, "TypeError", "kwargs.length"),
        ]
        for change, etype, words in cases:
            kw = dict(good)
            kw.update(change)
            r = c.floret("call", "wc.file", "--kwargs", json.dumps(kw), "--timeout", "20")
            self.assertEqual(r.returncode, 1, (change, r.stdout, r.stderr))
            self.assertIn("error: %s:" % etype, r.stderr, change)
            self.assertIn(words, r.stderr, change)

    def captured_reference(self, c, path):
        """The kwargs of a wc.file task the real client sends to w1 for path."""
        watch = fx.Mqtt(c.broker.port, "wc-watch")
        self.addCleanup(watch.close)
        watch.subscribe(fx.PREFIX + "node/w1/in")
        r = c.floret("wordcount", "--all", "--chunk", "1M", path)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertTrue(r.stdout.encode() == self.ref_slice, "counts differ")

        def has_ref(t, p, _r):
            env = fx.parse_envelope(p)
            return env.get("kind") == "lease" and any(
                x.get("name") == "wc.file" for x in env.get("tasks", []))
        _, p, _ = watch.expect(has_ref, 10, "a wc.file lease")
        task = [x for x in fx.parse_envelope(p)["tasks"] if x["name"] == "wc.file"][0]
        return task["kwargs"]

    def call_ref(self, c, kw, path):
        kw = dict(kw, path=path)
        return c.floret("call", "wc.file", "--kwargs", json.dumps(kw), "--timeout", "20")

    def test_wc_file_reads_only_below_its_data_dirs(self):
        root = tempfile.mkdtemp(prefix="root-", dir=self.dir)
        out = tempfile.mkdtemp(prefix="out-", dir=self.dir)
        inside = os.path.join(root, "in.txt")
        shutil.copyfile(self.slice, inside)
        # Outside the data dir: the same bytes and the same mtime, so that a
        # reference good for `inside` is good for it too, but for the root.
        outside = os.path.join(out, "secret.txt")
        shutil.copyfile(inside, outside)
        st = os.stat(inside)
        os.utime(outside, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.symlink(outside, os.path.join(root, "link.txt"))
        os.symlink(out, os.path.join(root, "dirlink"))
        fifo = os.path.join(root, "fifo")
        os.mkfifo(fifo)
        c = self.start_cluster(("w1",), ["--slots", "1", "--data-dir", root])
        kw = self.captured_reference(c, inside)
        # The reference is good: replayed as is, it counts.
        r = self.call_ref(c, kw, inside)
        self.assertEqual(r.returncode, 0, r.stderr + self.logs())
        self.assertIn("\"words\"", r.stdout)
        refusals = {}
        for path in (outside, os.path.join(root, "link.txt"),
                     os.path.join(root, "dirlink", "secret.txt"),
                     os.path.join(root, "..", os.path.basename(out), "secret.txt"),
                     os.path.join(root, "nothing"), os.path.join(root, "in.txt", "x"),
                     fifo, root, "/dev/zero", "/etc/shadow"):
            r = self.call_ref(c, kw, path)
            self.assertEqual(r.returncode, 1, (path, r.stdout, r.stderr))
            self.assertNotIn("words", r.stdout, path)
            refusals[path] = r.stderr.replace(path, "PATH")
        # One and the same answer, whatever the reason: no oracle.
        self.assertEqual(len(set(refusals.values())), 1, refusals)
        self.assertIn("error: NotLocal: wc.file: PATH is not readable here",
                      refusals[outside])
        # The chunks of a file outside still count through the bytes.
        r = c.floret("wordcount", "--json", outside)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["chunks_read_by_nodes"], 0, r.stdout)

    def test_wc_file_never_opens_a_fifo(self):
        root = tempfile.mkdtemp(prefix="root-", dir=self.dir)
        inside = os.path.join(root, "in.txt")
        shutil.copyfile(self.slice, inside)
        fifo = os.path.join(root, "fifo")
        os.mkfifo(fifo)
        c = self.start_cluster(("w1",), ["--slots", "1", "--data-dir", root])
        kw = self.captured_reference(c, inside)
        libc = ctypes.CDLL(None, use_errno=True)
        in_open = 0x20
        ino = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        self.assertGreaterEqual(ino, 0)
        self.addCleanup(os.close, ino)

        def opened(path, why):
            wd = libc.inotify_add_watch(ino, path.encode(), in_open)
            self.assertGreaterEqual(wd, 0)
            r = self.call_ref(c, kw, path)
            time.sleep(0.1)
            try:
                events = os.read(ino, 4096)
            except BlockingIOError:
                events = b""
            libc.inotify_rm_watch(ino, wd)
            try:
                os.read(ino, 4096)  # the IN_IGNORED of the removed watch
            except BlockingIOError:
                pass
            return r, len(events) > 0
        # The watch sees wc.file open the regular file it counts...
        r, seen = opened(inside, "control")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(seen, "inotify saw no open of the file counted")
        # ...and no open of the FIFO, with a reference otherwise good.
        r, seen = opened(fifo, "fifo")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not readable here", r.stderr)
        self.assertFalse(seen, "wc.file opened a FIFO")

if __name__ == "__main__":
    fx.main()
