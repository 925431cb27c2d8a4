"""Call next → the call event received by an MQTT subscriber (target: p99 ≤ 20 ms at 100 calls/s).

A real server publishing to its broker (``--broker``: by default the hall's
own Mosquitto, which ``hallq serve`` starts; the subscriber signs in to it
as the lobby board, with the secret the broker wrote in the data directory;
or a Mosquitto of the benchmark's own); 18 windows signed in; six caller
threads press "next" (completing the previous ticket) at a steady
``--rate`` calls per second in total; a subscriber process on
hallq/<site>/calls timestamps each event. Latency = request sent → event
received.

    .venv/bin/python bench/bench_call.py [--rate 100] [--seconds 10] [--broker hall|mosquitto]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import threading
import time

import paho.mqtt.client as paho

from common import BROKERS, ServerCpu, add_broker_option, emit, labels, machine, percentiles, start_server, tempdir
from hallq.client import ApiError, HallClient

WINDOWS = list(range(1, 19))
BUSINESSES = ["commerce", "construction", "social", "online"]


def subscriber(login: tuple[str, int, str, str], ready, done, results) -> None:
    received: dict[int, float] = {}

    def on_message(client, userdata, msg):
        received.setdefault(json.loads(msg.payload)["seq"], time.perf_counter())

    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-sub")
    c.on_message = on_message
    c.on_subscribe = lambda *a: ready.set()
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe("hallq/liupanshui/calls", 1)
    host, port, user, password = login
    if user:
        c.username_pw_set(user, password)
    c.connect(host, port)
    c.loop_start()
    done.wait()
    c.loop_stop()
    results.put(received)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=float, default=100.0, help="calls per second, all windows together")
    ap.add_argument("--seconds", type=float, default=10.0)
    add_broker_option(ap)
    args = ap.parse_args()
    if args.broker == "none":
        raise SystemExit(f"bench_call: --broker none has no subscriber to measure; one of "
                         f"{', '.join(b for b in BROKERS if b != 'none')}")
    work = tempdir()
    server = start_server(work, broker=args.broker)
    system = labels(server)
    # the subscriber runs in a process of its own, like a board: the callers' threads must not
    # delay its timestamps (perf_counter is CLOCK_MONOTONIC, comparable across processes)
    results = mp.Queue()
    ready = mp.Event()
    done = mp.Event()
    sub = mp.Process(target=subscriber, args=(server.subscriber_login(), ready, done, results))
    sub.start()
    ready.wait(10)
    try:
        kiosk = HallClient(server.url, token="demo-kiosk-1")
        total = int(args.rate * args.seconds) + 200
        for i in range(total):
            kiosk.issue_ticket(BUSINESSES[i % len(BUSINESSES)])
        clerks = {}
        for n in WINDOWS:
            c = HallClient(server.url)
            c.login(str(1000 + n), "hallq-demo")
            c.window_action(n, "sign-in")
            clerks[n] = c
        sent: dict[int, float] = {}
        lock = threading.Lock()
        callers = 6
        per_caller = args.rate / callers
        stop_at = 0.0  # set just before the callers start

        def caller(k: int) -> None:
            mine = WINDOWS[k::callers]
            nxt = time.perf_counter() + k / args.rate
            i = 0
            while nxt < stop_at:
                delay = nxt - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                n = mine[i % len(mine)]
                t0 = time.perf_counter()
                try:
                    seq = clerks[n].call_next(n, complete_current=True)["seq"]
                    with lock:
                        sent[seq] = t0
                except ApiError:
                    pass
                i += 1
                nxt += 1 / per_caller

        idle = ServerCpu(server)  # the server's own ticking (publisher poll, housekeeping), for reference
        idle.start()
        time.sleep(1.0)
        idle.stop()
        stop_at = time.perf_counter() + args.seconds
        threads = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
        cpu = ServerCpu(server)
        cpu.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu.stop()
        time.sleep(1.0)  # let the last events arrive
        done.set()
        received = results.get(timeout=10)
        lat = [(received[s] - t0) * 1000 for s, t0 in sent.items() if s in received]
        missing = [s for s in sent if s not in received]
    finally:
        done.set()
        sub.join(5)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit({"benchmark": "call next (HTTP) -> call event at an MQTT subscriber", "system": system,
          "calls_per_second": args.rate, "seconds": args.seconds, "latency": percentiles(lat),
          "calls_not_received": len(missing), **cpu.per_op(len(sent), "call"),
          "server_idle_cpu_percent_of_one_core": round(100 * idle.server_s / idle.wall_s, 1),
          "targets": {"p99_ms": 20, "server_cpu_ms_per_call": 1.0}, "machine": machine()})


if __name__ == "__main__":
    main()
