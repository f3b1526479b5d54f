#!/usr/bin/python3
"""A floret client in Python, written from docs/protocol.md alone: it owns the tasks it
submits (section 5), as `floret call` does: announces work (3.2), leases to workers whose
presence lists the task (3.3, 3.4, 5.8), takes the holder's done (3.5), takes leases back
on release, hand-back, expiry or a worker's death (3.6, 5), prints one JSON result per
task and exits 0 when all succeeded. client.py [--chain] add '[4,4]' py.double '[]'"""

import argparse, collections, json, random, sys, threading, time
import paho.mqtt.client as mqtt

TTL_MS, MAX_ATTEMPTS = 30000, 5


class Client:
    def __init__(self, a):
        self.id, self.p = a.name, "floret/v1/%s/" % a.cluster
        self.inc = random.randrange(1, 2 ** 53)
        self.lock = threading.RLock()
        self.tasks, self.ready = {}, collections.deque()  # id -> task; to lease
        self.workers, self.announced = {}, 0.0  # id -> presence + credit, fid
        self.finished = threading.Condition(self.lock)
        v1 = (mqtt.CallbackAPIVersion.VERSION1,) if hasattr(mqtt, "CallbackAPIVersion") else ()
        self.c = mqtt.Client(*v1, client_id=self.id, clean_session=True)  # paho 1 or 2
        self.c.will_set(self.p + "node/" + self.id, self.presence("offline"), 1, False)
        self.c.on_connect, self.c.on_message = self.on_connect, self.on_message

    def presence(self, state):
        return json.dumps({"v": 1, "kind": "presence", "from": self.id, "inc": self.inc,
                           "state": state, "slots": 0, "tasks": []})

    def send(self, topic, kind, **members):
        msg = dict({"v": 1, "kind": kind, "from": self.id}, **members)
        self.c.publish(self.p + topic, json.dumps(msg), qos=1)

    def on_connect(self, c, ud, flags, rc):
        c.subscribe([(self.p + "node/+", 1), (self.p + "node/%s/in" % self.id, 1)])
        c.publish(self.p + "node/" + self.id, self.presence("online"), 1, False)
        self.announced = 0.0  # the broker may have lost what we said

    def on_message(self, c, ud, m):
        try:
            msg = json.loads(bytes(m.payload).split(b"\0", 1)[0] or b"null")
            if isinstance(msg, dict) and isinstance(msg.get("from"), str):
                with self.lock:
                    self.dispatch(m.topic[len(self.p):], msg)
        except (ValueError, KeyError, TypeError) as e:
            print("dropped a message on %s: %s" % (m.topic, e), file=sys.stderr)

    def dispatch(self, topic, msg):
        kind, frm = msg.get("kind"), msg["from"]
        if kind == "presence" and topic == "node/" + frm:
            old = self.workers.get(frm)
            if msg.get("state") != "online" or (old and old.get("inc") != msg.get("inc")):
                self.worker_gone(frm)
                old = None
            if msg.get("state") == "online" and msg.get("slots"):  # parked credit stays
                self.workers[frm] = dict(msg, credit=old["credit"] if old else 0,
                                         fid=old["fid"] if old else 0)
        elif topic != "node/%s/in" % self.id:
            return
        elif kind == "fetch" and self.workers.get(frm, {}).get("inc") == msg["inc"]:
            w = self.workers[frm]  # (one of another incarnation waits for its presence)
            if msg["fid"] > w["fid"]:  # an older fetch may arrive late
                w.update(fid=msg["fid"], credit=msg["credit"])
        elif kind == "done":
            for r in msg["results"]:
                self.on_result(frm, r)
        elif kind in ("extend", "release"):
            for tid in msg["ids"]:
                t = self.tasks.get(tid)
                if t and t["holder"] == frm and t["state"] == "leased":
                    if kind == "extend":
                        t["deadline"] = time.monotonic() + TTL_MS / 1000
                    else:
                        t["attempt"] -= 1  # it never ran: same attempt again
                        self.requeue(t, front=True)
        self.serve()

    def on_result(self, frm, r):
        t = self.tasks.get(r["id"])
        if not t or t["state"] == "finished" or t["by"].get(r["attempt"]) != frm:
            return  # a late duplicate, or not from that attempt's holder: dropped
        if not r["ok"] and r["error"]["type"] == "NotRunHere" and t["holder"] == frm:
            self.workers.get(frm, {}).setdefault("not", set()).add(t["name"])
            t["attempt"] -= 1  # its presence was stale: elsewhere, attempt not counted
            return self.requeue(t, front=True)
        self.finish(t, r["ok"], r.get("value"), r.get("error"))  # the first one wins

    def finish(self, t, ok, value=None, error=None):
        t.update(state="finished", ok=ok, value=value, error=error)
        self.finished.notify_all()

    def worker_gone(self, wid):
        self.workers.pop(wid, None)
        for t in self.tasks.values():
            if t["state"] == "leased" and t["holder"] == wid:
                self.requeue(t)

    def requeue(self, t, front=False):
        t.update(state="ready", holder=None)
        (self.ready.appendleft if front else self.ready.append)(t)

    def submit(self, name, args):
        with self.lock:
            t = {"id": len(self.tasks) + 1, "name": name, "args": args, "attempt": 0, "by": {}}
            self.tasks[t["id"]] = t
            self.requeue(t)
            self.serve()
            return t

    def serve(self):
        """Lease ready tasks to parked workers that run them, in turn; fail what none runs."""
        runs = lambda w, t: t["name"] in set(w.get("tasks", ())) - w.get("not", set())
        for t in [t for t in self.ready if self.workers and not
                  any(t["name"] in w.get("tasks", ()) for w in self.workers.values())]:
            self.ready.remove(t)
            self.finish(t, False, error={"type": "UnknownTask", "message": "no online node "
                        "runs '%s' (online: %s)" % (t["name"], ", ".join(self.workers))})
        leases, progress = collections.defaultdict(list), True
        while self.ready and progress:
            progress = False
            for wid, w in self.workers.items():
                t = next((t for t in self.ready if runs(w, t)), None) if w["credit"] else None
                if t and t["attempt"] >= MAX_ATTEMPTS:
                    self.ready.remove(t)
                    self.finish(t, False, error={"type": "WorkerLost", "message": "lost 5 times"})
                elif t:
                    self.ready.remove(t)
                    t.update(state="leased", holder=wid, attempt=t["attempt"] + 1,
                             deadline=time.monotonic() + TTL_MS / 1000)
                    t["by"][t["attempt"]] = wid  # only its holder's outcome counts
                    w["credit"] -= 1
                    leases[wid].append(t)
                    progress = True
        for wid, ts in leases.items():
            for i in range(0, len(ts), 512):
                self.send("node/%s/in" % wid, "lease", inc=self.inc,
                          fid=self.workers[wid]["fid"], ttl_ms=TTL_MS,
                          tasks=[{k: t[k] for k in ("id", "name", "args", "attempt")}
                                 for t in ts[i:i + 512]])
        if self.ready and time.monotonic() - self.announced >= 1:
            self.announced = time.monotonic()
            self.send("work", "work", pending=len(self.ready))

    def tick(self):
        """Re-queue expired leases, repeat the announcement every second."""
        while True:
            time.sleep(0.2)
            with self.lock:
                for t in self.tasks.values():
                    if t["state"] == "leased" and time.monotonic() > t["deadline"]:
                        self.requeue(t)
                self.serve()

    def wait(self, t, timeout):
        with self.lock:
            if not self.finished.wait_for(lambda: t["state"] == "finished", timeout):
                self.finish(t, False, error={"type": "Timeout",
                                             "message": "no result within %g s" % timeout})
        return t


def main():
    ap = argparse.ArgumentParser(description="submit floret tasks from Python")
    ap.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--name", default="pyc-%d" % random.randrange(10 ** 6))
    ap.add_argument("--cluster", default="default")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--chain", action="store_true", help="each result is the next one's first arg")
    ap.add_argument("calls", nargs="+", metavar="TASK ARGS")
    a = ap.parse_args()
    if len(a.calls) % 2:
        ap.error("give each task its JSON array of arguments")
    calls = [(a.calls[i], json.loads(a.calls[i + 1])) for i in range(0, len(a.calls), 2)]
    cl = Client(a)
    host, _, port = a.broker.split("://", 1)[-1].rsplit("@", 1)[-1].partition(":")
    cl.c.connect(host or "127.0.0.1", int(port or 1883), keepalive=10)
    cl.c.loop_start()
    threading.Thread(target=cl.tick, daemon=True).start()
    time.sleep(0.3)  # retained presence of the workers arrives first
    if a.chain:
        prev = []  # each step gets the previous result as its first argument
        for name, args in calls:
            results = [cl.wait(cl.submit(name, prev + args), a.timeout)]
            if not results[0]["ok"]:
                break
            prev = [results[0]["value"]]
    else:
        results = [cl.wait(t, a.timeout) for t in [cl.submit(n, g) for n, g in calls]]
    for t in results:
        print(json.dumps(t["value"]) if t["ok"] else "%(type)s: %(message)s" % t["error"])
    cl.c.publish(cl.p + "node/" + cl.id, cl.presence("offline"), 1, False).wait_for_publish()
    cl.c.disconnect()
    cl.c.loop_stop()
    return 0 if all(t["ok"] for t in results) else 1


if __name__ == "__main__":
    sys.exit(main())
