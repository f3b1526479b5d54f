#!/usr/bin/python3
"""A floret worker in Python, written from docs/protocol.md alone: it joins a cluster
over plain MQTT (paho-mqtt) and runs tasks of its own beside the C nodes. Presence and
will (3.1), fetch with credit on `work` (3.2, 3.3), leases with the duplicate filter
(3.4), done (3.5), extend, release, check (3.6, 3.10), hand-back (6.5). Run:
/usr/bin/python3 worker.py --broker mqtt://127.0.0.1:1883 --name pyw1"""

import argparse, collections, json, platform, random, signal, threading, time
from concurrent.futures import ThreadPoolExecutor
import paho.mqtt.client as mqtt

TASKS = {  # name -> function of the positional args
    "py.upper": lambda s: s.upper(),
    "py.reverse": lambda s: s[::-1],
    "py.double": lambda x: x * 2,
    "py.sleep": lambda seconds: time.sleep(seconds) or seconds,
}
ERRORS = {TypeError: "TypeError", AttributeError: "TypeError", ValueError: "ValueError"}


class Worker:
    def __init__(self, a):
        self.id, self.slots, self.p = a.name, a.slots, "floret/v1/%s/" % a.cluster
        self.inc = random.randrange(1, 2 ** 53)  # new for every process
        self.lock = threading.RLock()
        self.owners = {}   # owner id -> {"inc", "fid_at", "heard", "ttl"}
        self.held = {}     # (owner, id) -> task (queued or running)
        self.seen = collections.OrderedDict()  # (owner, inc, id, attempt)
        self.next_fid, self.stopping, self.stopped = 0, False, threading.Event()
        self.pool = ThreadPoolExecutor(self.slots)
        v1 = (mqtt.CallbackAPIVersion.VERSION1,) if hasattr(mqtt, "CallbackAPIVersion") else ()
        self.c = mqtt.Client(*v1, client_id=self.id, clean_session=True)  # paho 1 or 2
        self.c.will_set(self.p + "node/" + self.id, self.presence(False), 1, True)
        self.c.on_connect, self.c.on_message = self.on_connect, self.on_message

    def presence(self, online):
        return json.dumps({"v": 1, "kind": "presence", "from": self.id, "inc": self.inc,
                           "state": "online" if online else "offline", "slots": self.slots,
                           "tasks": sorted(TASKS), "runtime": "python", "version": "0.1.0",
                           "arch": platform.machine() or "unknown", "load": len(self.held)})

    def send(self, to, kind, **members):
        msg = dict({"v": 1, "kind": kind, "from": self.id}, **members)
        self.c.publish(self.p + "node/%s/in" % to, json.dumps(msg), qos=1)

    def on_connect(self, c, ud, flags, rc):
        c.subscribe([(self.p + t, 1) for t in ("node/+", "node/%s/in" % self.id, "work")])
        c.publish(self.p + "node/" + self.id, self.presence(True), 1, True)
        with self.lock:  # the broker may have lost our fetches: ask again (3.10)
            for o in self.owners:
                self.send(o, "holding", inc=self.inc, ids=[i for k, i in self.held if k == o])
                self.fetch(o)

    def on_message(self, c, ud, m):
        try:
            msg = json.loads(bytes(m.payload).split(b"\0", 1)[0] or b"null")
            if isinstance(msg, dict) and isinstance(msg.get("from"), str):
                with self.lock:
                    self.dispatch(m.topic[len(self.p):], msg)
        except (ValueError, KeyError, TypeError) as e:
            print("%s: dropped a message on %s: %s" % (self.id, m.topic, e), flush=True)

    def dispatch(self, topic, msg):
        kind, frm = msg.get("kind"), msg["from"]
        if topic == "work" and kind == "work" and not self.stopping:
            self.owner(frm)["heard"] = time.monotonic()
            self.fetch(frm)
        elif kind == "presence" and frm in self.owners and (
                msg.get("state") != "online" or self.owners[frm]["inc"] not in (None, msg["inc"])):
            self.forget(frm)  # the owner died or restarted
        elif topic == "node/%s/in" % self.id and kind == "lease":
            self.on_lease(msg)
        elif topic == "node/%s/in" % self.id and kind == "check":  # 3.10; outcomes went
            o = self.owners.get(frm)  # out at once, so they precede this answer
            held = {i for k, i in self.held if k == frm} if o and o["inc"] == msg["inc"] else ()
            self.send(frm, "holding", inc=self.inc, cid=msg["cid"], ids=[i for i in msg["ids"]
                      if i in held], missing=[i for i in msg["ids"] if i not in held])
        elif topic == "node/%s/in" % self.id and kind == "ping":  # 3.12: this id is held
            self.send(frm, "pong", inc=self.inc, **({"re": msg["mid"]} if "mid" in msg else {}))

    def owner(self, oid):
        return self.owners.setdefault(oid, {"inc": None, "fid_at": None, "ttl": 30000,
                                            "heard": time.monotonic()})

    def forget(self, oid):
        self.owners.pop(oid, None)
        for key in [k for k in self.held if k[0] == oid]:
            self.held.pop(key)["dropped"] = True  # running ones finish unsent

    def fetch(self, oid):
        """Credit counts tasks beyond those held: ask for 2 per slot in all."""
        credit = max(0, 2 * self.slots - len(self.held))
        if credit == 0 or self.stopping:
            return
        self.next_fid += 1
        self.owner(oid)["fid_at"] = time.monotonic()
        self.send(oid, "fetch", inc=self.inc, fid=self.next_fid, credit=credit)

    def on_lease(self, msg):
        oid, o = msg["from"], self.owners.get(msg["from"])
        if o and o["inc"] not in (None, msg["inc"]):
            self.forget(oid)  # a new incarnation of that owner
        o = self.owner(oid)
        o.update(inc=msg["inc"], fid_at=None, heard=time.monotonic(),
                 ttl=msg.get("ttl_ms", 30000))
        if self.stopping:
            return self.send(oid, "release", inc=self.inc, ids=[t["id"] for t in msg["tasks"]])
        for t in msg["tasks"]:
            key = (oid, msg["inc"], t["id"], t["attempt"])
            if key in self.seen or (oid, t["id"]) in self.held:
                continue  # a duplicate: already held or finished
            if t["name"] not in TASKS:  # the owner's view of our tasks was stale: hand it
                err = {"type": "NotRunHere", "retryable": True, "message": "not run on " + self.id}
                self.send(oid, "done", inc=self.inc, results=[  # back, unseen: it may return
                    {"id": t["id"], "attempt": t["attempt"], "ok": False, "error": err}])
                continue
            self.seen[key] = True  # the last 100,000 leases, oldest first out
            while len(self.seen) > 100000:
                self.seen.popitem(last=False)
            t.update(owner=oid, key=key, dropped=False, started=False)
            self.held[(oid, t["id"])] = t
            self.pool.submit(self.run, t)

    def run(self, t):
        with self.lock:
            if t["dropped"]:
                return
            t["started"] = True
        fn, t0 = TASKS[t["name"]], time.monotonic()
        try:
            r = {"ok": True, "value": fn(*t.get("args", []), **t.get("kwargs", {}))}
            json.dumps(r)
        except Exception as e:
            r = {"ok": False, "error": {"type": ERRORS.get(type(e), "TaskError"),
                                        "message": str(e)[:1024]}}
        limit = t.get("time_limit_ms")  # a thread cannot be stopped: fail it after
        if limit and (time.monotonic() - t0) * 1000 > limit:
            r = {"ok": False, "error": {"type": "TimeLimitExceeded", "message": "over %d ms" % limit}}
        with self.lock:
            if t["dropped"] or self.held.pop((t["owner"], t["id"]), None) is None:
                return  # its owner is gone: the result is discarded
            r.update(id=t["id"], attempt=t["attempt"])
            self.send(t["owner"], "done", inc=self.inc, results=[r])
            self.fetch(t["owner"])

    def tick(self):
        """Extend leases every ttl/3, re-send fetches after 5 s, forget silent owners."""
        while not self.stopping:
            time.sleep(1)
            now = time.monotonic()
            with self.lock:
                for oid, o in list(self.owners.items()):
                    ids = [t["id"] for (k, _), t in self.held.items() if k == oid]
                    if ids and now - o.get("extended", 0) >= o["ttl"] / 3000:
                        o["extended"] = now
                        for i in range(0, len(ids), 512):
                            self.send(oid, "extend", inc=self.inc, ids=ids[i:i + 512])
                    if not ids and now - o["heard"] > 60:
                        self.owners.pop(oid)
                    elif o["fid_at"] is not None and now - o["fid_at"] >= 5:
                        self.fetch(oid)

    def stop(self, *_):
        """SIGTERM: release what has not started, withdraw, go offline."""
        with self.lock:
            self.stopping = True
            for (oid, tid), t in list(self.held.items()):
                if not t["started"]:
                    self.held.pop((oid, tid))["dropped"] = True
                    self.seen.pop(t["key"], None)  # released: may come back
                    self.send(oid, "release", inc=self.inc, ids=[tid])
            for oid in self.owners:
                self.next_fid += 1
                self.send(oid, "fetch", inc=self.inc, fid=self.next_fid, credit=0)
        self.pool.shutdown(wait=True)  # running tasks finish and report
        self.c.publish(self.p + "node/" + self.id, self.presence(False), 1, True).wait_for_publish()
        self.c.disconnect()
        self.stopped.set()


def main():
    ap = argparse.ArgumentParser(description="a floret worker in Python")
    ap.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--name", default="pyw1")
    ap.add_argument("--cluster", default="default")
    ap.add_argument("--slots", type=int, default=2)
    w = Worker(args := ap.parse_args())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=w.stop).start())
    host, _, port = args.broker.split("://", 1)[-1].rsplit("@", 1)[-1].partition(":")
    w.c.connect(host or "127.0.0.1", int(port or 1883), keepalive=10)
    w.c.loop_start()
    threading.Thread(target=w.tick, daemon=True).start()
    w.stopped.wait()
    w.c.loop_stop()


if __name__ == "__main__":
    main()
