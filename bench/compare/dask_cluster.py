"""dask_cluster.py - the Dask cluster of bench/compare: a LocalCluster of
2 worker processes with one thread each, its scheduler on 127.0.0.1:PORT
and no dashboard. Once up it writes READY_FILE (JSON: scheduler address,
worker process ids, for the idle-memory figure) and serves until SIGTERM
or SIGINT, then closes the cluster (the workers go with it).
Usage: /usr/bin/python3 dask_cluster.py PORT READY_FILE
Depends on python3-distributed (Debian).
"""
import json
import os
import signal
import sys
import threading


def main():
    port, ready = int(sys.argv[1]), sys.argv[2]
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", scheduler_port=port,
                           dashboard_address=None)
    client = Client(cluster)
    pids = sorted(client.run(os.getpid).values())
    tmp = ready + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"address": cluster.scheduler_address, "worker_pids": pids}, f)
    os.rename(tmp, ready)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    client.close()
    cluster.close(timeout=10)


if __name__ == "__main__":
    main()
