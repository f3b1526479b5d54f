#!/usr/bin/python3
"""floret_sites - build "sites" on one Linux machine: one network namespace
per site, each with its own Mosquitto and its own floret nodes, the brokers
joined by Mosquitto bridges over floret/# (docs/scaling.md, "Sites joined by
bridges"), then run a command at a site and tear everything down.

    sudo bench/floret_sites.py --sites 3 --nodes 2 -- floret wordcount FILE

Site a is the hub: site b's and site c's brokers each open a bridge to a's
over a veth pair of their own (10.201.K.1 is a, 10.201.K.2 the other site),
so b and c talk through a, as branch offices through a head office. Inside
every namespace the broker listens on 127.0.0.1:1883 and on its veth
address; nodes and commands run inside the namespace (ip netns exec) and
use mqtt://127.0.0.1:1883. Needs root (ip netns, veth). Used by
tests/integration/test_sites.py and bench/sites_bench.py.

Depends on the Python standard library, iproute2 (ip), mosquitto,
mosquitto_sub (mosquitto-clients) and the floret binary ($FLORET_BIN, else
floret on PATH or build/gcc/floret beside this script).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "floret/v1/default/"
PORT = 1883

# The bridge as docs/scaling.md gives it; {name}, {addr}, {keepalive} are
# filled in per connection.
BRIDGE_CONF = """\
connection {name}
address {addr}:{port}
remote_clientid {name}
topic floret/# both 1
cleansession false
try_private true
keepalive_interval {keepalive}
restart_timeout 1 2
notifications false
"""


def floret_bin():
    b = os.environ.get("FLORET_BIN")
    if b:
        return b
    local = os.path.join(HERE, "..", "build", "gcc", "floret")
    if os.access(local, os.X_OK):
        return os.path.abspath(local)
    return shutil.which("floret") or "floret"


def mosquitto_bin():
    for p in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if p and os.access(p, os.X_OK):
            return p
    raise RuntimeError("mosquitto not found; install the Debian package 'mosquitto'")


def run(argv, check=True, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                  r.stderr.strip()))
    return r


class Site:
    def __init__(self, sites, letter, index):
        self.letter = letter
        self.index = index
        self.ns = "floret-%d-%s" % (os.getpid(), letter)
        self.dir = os.path.join(sites.workdir, "site-" + letter)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log = os.path.join(self.dir, "mosquitto.log")
        self.broker = None
        self.nodes = {}
        self.addrs = []          # addresses this broker listens on besides loopback
        self.uplink = None       # (local veth, hub's veth, hub's address) for b, c...

    def argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + list(argv)


class Sites:
    """n sites, nodes_per_site nodes each (named a1, a2, b1, ...)."""

    def __init__(self, n=2, nodes_per_site=2, slots=2, node_args=(), keepalive=5,
                 workdir=None, spawn=None, verbose=False, bridge_conf=None,
                 quickack=True):
        if os.geteuid() != 0:
            raise RuntimeError("building sites needs root (ip netns, veth pairs)")
        if not 1 <= n <= 9:
            raise ValueError("--sites must be 1 to 9")
        self.own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="floret-sites-")
        self.keepalive = keepalive
        self.quickack = quickack
        # FLORET_SITES_BRIDGE_CONF: another bridge section (same {fields}),
        # to see what a different configuration breaks.
        self.bridge_conf = bridge_conf or os.environ.get("FLORET_SITES_BRIDGE_CONF") \
            or BRIDGE_CONF
        self._outer_spawn = spawn
        self.procs = []
        self.verbose = verbose
        self.sites = [Site(self, "abcdefghi"[i], i) for i in range(n)]
        self.floret = floret_bin()
        try:
            self._network()
            for s in self.sites:
                self._start_broker(s)
            self.wait_bridges()
            for s in self.sites:
                for k in range(nodes_per_site):
                    self.add_node(s, "%s%d" % (s.letter, k + 1),
                                  ["--slots", str(slots)] + list(node_args))
            names = [name for s in self.sites for name in s.nodes]
            if names:
                for s in self.sites:
                    self.wait_online(s, names)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ network
    @staticmethod
    def _remove_stale():
        """Namespaces of a run that was SIGKILLed (a test timeout) before it
        could tear down: floret-<pid>-<site> whose pid is gone."""
        r = run(["ip", "netns", "list"], check=False)
        for line in r.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            parts = name.split("-")
            if len(parts) == 3 and parts[0] == "floret" and parts[1].isdigit() \
                    and not os.path.exists("/proc/" + parts[1]):
                run(["ip", "netns", "del", name], check=False)

    def _network(self):
        self._remove_stale()
        for s in self.sites:
            run(["ip", "netns", "add", s.ns])
            run(["ip", "-n", s.ns, "link", "set", "lo", "up"])
        hub = self.sites[0]
        for s in self.sites[1:]:
            k = s.index
            here, there = "fl%d%s%s" % (os.getpid() % 100000, s.letter, hub.letter), \
                          "fl%d%s%s" % (os.getpid() % 100000, hub.letter, s.letter)
            run(["ip", "link", "add", here, "netns", s.ns, "type", "veth",
                 "peer", "name", there, "netns", hub.ns])
            hub_addr, site_addr = "10.201.%d.1" % k, "10.201.%d.2" % k
            run(["ip", "-n", hub.ns, "addr", "add", hub_addr + "/30", "dev", there])
            run(["ip", "-n", s.ns, "addr", "add", site_addr + "/30", "dev", here])
            run(["ip", "-n", hub.ns, "link", "set", there, "up"])
            run(["ip", "-n", s.ns, "link", "set", here, "up"])
            hub.addrs.append(hub_addr)
            s.addrs.append(site_addr)
            s.uplink = (here, there, hub_addr)
            s.link = (k, hub_addr, site_addr)
            self._routes(s)

    def _routes(self, s):
        """The link's routes, with quickack (docs/scaling.md, "Latency"):
        Mosquitto 2.0 sets TCP_NODELAY on the sockets it accepts, not on a
        bridge's own, so without an immediate ACK from the other end each
        small message the bridge sends after another waits for a delayed
        ACK, some 40 ms."""
        k, hub_addr, site_addr = s.link
        here, there, _ = s.uplink
        net = "10.201.%d.0/30" % k
        for ns, dev, src in ((self.sites[0].ns, there, hub_addr), (s.ns, here, site_addr)):
            run(["ip", "-n", ns, "route", "replace", net, "dev", dev, "proto", "kernel",
                 "scope", "link", "src", src, "quickack", "1" if self.quickack else "0"])

    def set_quickack(self, on):
        self.quickack = on
        for s in self.sites[1:]:
            self._routes(s)

    def cut(self, letter):
        """Cut site letter's link to the hub: both ends down, packets go
        nowhere, the bridge's keep-alive notices after 1.5 x keepalive."""
        s = self.site(letter)
        here, there, _ = s.uplink
        run(["ip", "-n", s.ns, "link", "set", here, "down"])
        run(["ip", "-n", self.sites[0].ns, "link", "set", there, "down"])

    def restore(self, letter):
        s = self.site(letter)
        here, there, _ = s.uplink
        run(["ip", "-n", self.sites[0].ns, "link", "set", there, "up"])
        run(["ip", "-n", s.ns, "link", "set", here, "up"])
        self._routes(s)

    # ------------------------------------------------------------ brokers
    def _start_broker(self, s):
        lines = ["per_listener_settings false",
                 "listener %d 127.0.0.1" % PORT]
        lines += ["listener %d %s" % (PORT, a) for a in s.addrs if s.uplink is None]
        lines += ["allow_anonymous true",
                  "persistence false",
                  "max_queued_messages 100000",
                  "set_tcp_nodelay true",
                  "log_dest file " + s.log,
                  "log_type error", "log_type warning", "log_type notice",
                  "log_type information",
                  "connection_messages true",
                  "user root"]
        if s.uplink:
            lines.append(self.bridge_conf.format(name="bridge-%s-%s" % (s.letter, self.sites[0].letter),
                                            addr=s.uplink[2], port=PORT,
                                            keepalive=self.keepalive))
        with open(s.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        s.broker = self.spawn(s.argv([mosquitto_bin(), "-c", s.conf]), s.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = run(s.argv(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(PORT),
                            "-t", "probe/none", "-W", "1", "-E"]), check=False)
            if r.returncode == 0:
                return
            if s.broker.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("mosquitto at site %s did not start:\n%s" % (s.letter, read(s.log)))

    def bridges_up(self):
        """True when every site's bridge is connected: a message published
        at each site reaches every other site."""
        return all(self._crosses(a, b) for a in self.sites for b in self.sites if a is not b)

    def _crosses(self, src, dst):
        topic = "floret/v1/sites-check/%d/%s-%s" % (os.getpid(), src.letter, dst.letter)
        sub = subprocess.Popen(dst.argv(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(PORT),
                                         "-q", "1", "-t", topic, "-C", "1", "-W", "2"]),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(0.2)
        run(src.argv(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(PORT), "-q", "1",
                      "-t", topic, "-m", "x"]), check=False)
        out, _ = sub.communicate(timeout=5)
        return sub.returncode == 0 and out.strip() == b"x"

    def wait_bridges(self, timeout=20):
        deadline = time.monotonic() + timeout
        while not self.bridges_up():
            if time.monotonic() > deadline:
                raise RuntimeError("bridges not up within %d s:\n%s" % (timeout, self.logs()))
            time.sleep(0.3)

    # ------------------------------------------------------------ nodes
    def spawn(self, argv, log):
        """Start argv (its output to log) and remember it for close()."""
        if self._outer_spawn:
            p = self._outer_spawn(argv, log)
            self.procs.append(p)
            return p
        out = open(log, "ab")
        try:
            p = subprocess.Popen(["setpriv", "--pdeathsig", "KILL", "--"] + argv,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 start_new_session=True)
        finally:
            out.close()
        self.procs.append(p)
        return p

    def add_node(self, s, name, extra=()):
        log = os.path.join(s.dir, "node-%s.log" % name)
        argv = s.argv([self.floret, "node", "--broker", "mqtt://127.0.0.1:%d" % PORT,
                       "--name", name] + list(extra))
        s.nodes[name] = (self.spawn(argv, log), log)
        return s.nodes[name][0]

    def site(self, letter):
        return next(s for s in self.sites if s.letter == letter)

    def node_site(self, name):
        return next(s for s in self.sites if name in s.nodes)

    def kill_node(self, name, sig=signal.SIGKILL):
        p, _ = self.node_site(name).nodes[name]
        stop(p, sig)

    def presences(self, s, wait_s=1):
        """{id: presence} of the retained presences site s's broker holds."""
        r = run(s.argv(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(PORT), "-v",
                        "--retained-only", "-t", PREFIX + "node/+", "-W", str(wait_s)]),
                check=False)
        seen = {}
        for line in r.stdout.splitlines():
            topic, _, payload = line.partition(" ")
            try:
                seen[topic[len(PREFIX + "node/"):]] = json.loads(payload.split("\0")[0])
            except ValueError:
                pass
        return seen

    def wait_online(self, s, names, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            seen = self.presences(s)
            if all(seen.get(n, {}).get("state") == "online" for n in names):
                return seen
            if time.monotonic() > deadline:
                raise RuntimeError("at site %s, nodes not online within %d s: %s (seen %s)\n%s"
                                   % (s.letter, timeout, names, sorted(seen), self.logs()))
            time.sleep(0.2)

    def floret_at(self, letter, *args, timeout=120, env=None):
        s = self.site(letter)
        e = dict(os.environ)
        e["FLORET_BROKER"] = "mqtt://127.0.0.1:%d" % PORT
        e.update(env or {})
        return subprocess.run(s.argv([self.floret] + list(args)), env=e, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def logs(self, limit=4000):
        parts = []
        for s in self.sites:
            parts.append("--- site %s broker\n%s" % (s.letter, read(s.log)[-limit:]))
            for name, (_, log) in s.nodes.items():
                parts.append("--- node %s\n%s" % (name, read(log)[-limit:]))
        return "\n".join(parts)

    def close(self):
        for p in reversed(self.procs):
            stop(p, signal.SIGTERM)
        self.procs = []
        for s in self.sites:
            run(["ip", "netns", "del", s.ns], check=False)
        if self.own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def stop(p, sig=signal.SIGTERM, grace=8.0):
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        except ProcessLookupError:
            pass
    return p.returncode


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser(
        description="Sites on one machine: a Mosquitto and floret nodes per network "
                    "namespace, brokers bridged over floret/#; run COMMAND at site a.")
    ap.add_argument("--sites", type=int, default=2, help="number of sites (default 2)")
    ap.add_argument("--nodes", type=int, default=2, help="nodes per site (default 2)")
    ap.add_argument("--slots", type=int, default=2, help="slots per node (default 2)")
    ap.add_argument("--at", default="a", help="site that runs COMMAND (default a)")
    ap.add_argument("command", nargs=argparse.REMAINDER,
                    help="-- COMMAND [ARG...] (floret means the floret binary); "
                         "without one, wait for Ctrl-C")
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    sites = Sites(a.sites, a.nodes, a.slots)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for s in sites.sites:
            print("site %s: namespace %s, broker 127.0.0.1:%d%s, nodes %s" % (
                s.letter, s.ns, PORT,
                " bridged to %s" % s.uplink[2] if s.uplink else "",
                " ".join(s.nodes)), file=sys.stderr)
        if not cmd:
            print("running; Ctrl-C tears it down (ip netns exec %s floret status)"
                  % sites.sites[0].ns, file=sys.stderr)
            while True:
                time.sleep(3600)
        if cmd[0] == "floret":
            cmd[0] = sites.floret
        e = dict(os.environ)
        e["FLORET_BROKER"] = "mqtt://127.0.0.1:%d" % PORT
        return subprocess.call(sites.site(a.at).argv(cmd), env=e)
    except KeyboardInterrupt:
        return 130
    finally:
        sites.close()


if __name__ == "__main__":
    sys.exit(main())
