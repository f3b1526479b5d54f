"""rabbit_fixture - a private RabbitMQ cluster (Debian's rabbitmq-server with
its MQTT plugin) of N members on loopback, for tests/integration.

Every member gets its own node name (flN-<pid>@localhost), AMQP, distribution
and MQTT ports, its own Mnesia and log directories under a temp dir, and all
of them share one Erlang cookie (HOME) and one private epmd on a free port
(ERL_EPMD_PORT), so the cluster neither sees nor disturbs a system
rabbitmq-server (port 5672/25672, epmd 4369) if one runs. The members form
the cluster themselves at first boot (classic_config peer discovery).
close() stops every member, the epmd, and removes the directory.

Depends on the Python standard library, floret_fixture (spawn, stop_process,
free_port, port_accepts) and rabbitmq-server.
"""

import os
import shutil
import subprocess
import tempfile
import time

import floret_fixture as fx

RABBIT_BIN = "/usr/lib/rabbitmq/bin"


def available():
    return os.access(os.path.join(RABBIT_BIN, "rabbitmq-server"), os.X_OK)


class Member:
    def __init__(self, cluster, index):
        self.index = index
        self.name = "fl%d-%d@localhost" % (index, os.getpid())
        self.amqp_port = fx.free_port()
        self.dist_port = fx.free_port()
        self.mqtt_port = fx.free_port()
        self.dir = os.path.join(cluster.workdir, "m%d" % index)
        os.makedirs(os.path.join(self.dir, "log"))
        self.log = os.path.join(self.dir, "stdout.log")
        self.proc = None
        self.cluster = cluster

    @property
    def url(self):
        return "mqtt://127.0.0.1:%d" % self.mqtt_port

    def env(self):
        env = dict(self.cluster.base_env)
        env.update({
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "RABBITMQ_PID_FILE": os.path.join(self.dir, "pid"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
        })
        return env

    def write_conf(self, members, extra):
        lines = [
            "listeners.tcp.default = 127.0.0.1:%d" % self.amqp_port,
            "mqtt.listeners.tcp.default = 127.0.0.1:%d" % self.mqtt_port,
            "mqtt.allow_anonymous = true",
            "loopback_users = none",
            "log.console = false",
            "log.file.level = info",
            "cluster_formation.peer_discovery_backend = classic_config",
        ] + ["cluster_formation.classic_config.nodes.%d = %s" % (i + 1, m.name)
             for i, m in enumerate(members)] + list(extra)
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_mqtt].\n")

    def start(self):
        self.proc = fx.spawn([os.path.join(RABBIT_BIN, "rabbitmq-server")],
                             self.log, env=self.env())

    def ctl(self, *args, timeout=60):
        return subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n", self.name]
                              + list(args), env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    def stop(self):
        if self.proc:
            fx.stop_process(self.proc, grace=15.0)
            self.proc = None

    def kill(self):
        if self.proc:
            fx.stop_process(self.proc, sig=9, grace=5.0)
            self.proc = None


class RabbitCluster:
    """N members, started together, clustered, with MQTT on each."""

    def __init__(self, size=3, extra_conf=(), timeout=150.0):
        self.workdir = tempfile.mkdtemp(prefix="floret-rabbit-")
        self.epmd_port = fx.free_port()
        home = os.path.join(self.workdir, "home")
        os.makedirs(home)
        cookie = os.path.join(home, ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write("FLORETTEST%d" % os.getpid())
        os.chmod(cookie, 0o400)
        self.base_env = dict(os.environ)
        self.base_env.update({"HOME": home, "ERL_EPMD_PORT": str(self.epmd_port),
                              "RABBITMQ_ALLOW_INPUT": "", "LC_ALL": "C.UTF-8"})
        self.epmd = None
        self.members = [Member(self, i + 1) for i in range(size)]
        try:
            self.epmd = fx.spawn(["epmd", "-port", str(self.epmd_port)],
                                 os.path.join(self.workdir, "epmd.log"), env=self.base_env)
            for m in self.members:
                m.write_conf(self.members, extra_conf)
            t0 = time.monotonic()
            for m in self.members:
                m.start()
            for m in self.members:
                fx.wait_until(lambda: fx.port_accepts(m.mqtt_port) or self._died(m),
                              timeout - (time.monotonic() - t0), interval=0.2,
                              what="RabbitMQ member %s's MQTT port" % m.name)
                if self._died(m):
                    raise RuntimeError("RabbitMQ member %s exited:\n%s" % (m.name, self.logs()))
            fx.wait_until(self._clustered, timeout - (time.monotonic() - t0),
                          interval=1.0, what="the members to form one cluster")
            self.start_seconds = time.monotonic() - t0
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _died(m):
        return m.proc is not None and m.proc.poll() is not None

    def _clustered(self):
        r = self.members[0].ctl("cluster_status", "--formatter", "json")
        if r.returncode != 0:
            return False
        import json
        try:
            running = json.loads(r.stdout).get("running_nodes", [])
        except ValueError:
            return False
        return sorted(running) == sorted(m.name for m in self.members)

    def logs(self, limit=6000):
        parts = []
        for m in self.members:
            log = os.path.join(m.dir, "log", m.name + ".log")
            parts.append("--- %s\n%s%s" % (m.name, fx.read_text(m.log)[-limit:],
                                            fx.read_text(log)[-limit:]))
        return "\n".join(parts)

    def close(self):
        for m in self.members:
            m.stop()
        if self.epmd:
            fx.stop_process(self.epmd, grace=2.0)
            self.epmd = None
        shutil.rmtree(self.workdir, ignore_errors=True)
