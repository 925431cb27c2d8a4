"""Call next while someone floods the sign-in with wrong passwords (target: p95 within 2x of idle).

A real server of the sample city hall (its broker by ``--broker``, default the hall's own Mosquitto)
behind a "proxy" (the load generator on 127.0.0.1, listed in ``[security] trusted_proxies``, sending
``X-Forwarded-For``); 18 windows signed in; clerks
press "next" at a steady rate; the latency of each call-next request is measured in three
phases of the same length, which take turns ``--rounds`` times (the machine's other load drifts):

* ``idle``: nobody signs in;
* ``flood_one_client``: flooding threads send wrong passwords for every account, ``--flood-rate``
  a second, all from one client address: after its free failures it is refused (429) before any
  password is checked, and while one of its attempts is being checked the others get 503;
* ``flood_many_clients``: the same from a new address at every attempt (a spread no address
  throttle sees), so every attempt that gets through is a full argon2 check: they run one at a
  time on a thread at nice 19 that rests twice as long as each check took; at most three
  sign-ins are being checked or waiting at once, any more are answered 503 ``sign_in_busy`` at
  once, so however many flood threads there are the windows keep the server's other threads.

    .venv/bin/python bench/bench_login_flood.py [--rate 30] [--seconds 5] [--rounds 4] [--flood-rate 200]
        [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from collections import Counter

from common import add_broker_option, bench_hall, emit, labels, machine, percentiles, start_server, tempdir
from hallq.client import ApiError, HallClient

WINDOWS = list(range(1, 19))
BUSINESSES = ["commerce", "construction", "social", "online"]
ACCOUNTS = [str(1000 + n) for n in range(1, 21)] + ["2001"]


def flood(url: str, stop: threading.Event, addresses, rate: float, outcomes: Counter, lock: threading.Lock) -> None:
    """Wrong passwords for every account in turn, ``rate`` a second (0: as fast as the server answers)."""
    client = HallClient(url, retries=0, timeout=10)
    i = 0
    nxt = time.perf_counter()
    while not stop.is_set():
        if rate:
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            nxt += 1 / rate
        job = ACCOUNTS[i % len(ACCOUNTS)]
        try:
            client.request("POST", "/auth/login", {"job_no": job, "password": f"Guess-{i:06d}"}, retry=False,
                           headers={"X-Forwarded-For": addresses(i)})
            status = 200
        except ApiError as e:  # Unreachable is status 0
            status = e.status
        with lock:
            outcomes[status] += 1
        i += 1


def calls(clerks: dict[int, HallClient], rate: float, seconds: float) -> list[float]:
    """Call next on the windows in turn at ``rate`` per second for ``seconds``; the latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    callers = 3
    stop_at = time.perf_counter() + seconds

    def caller(k: int) -> None:
        mine = WINDOWS[k::callers]
        nxt = time.perf_counter() + k / rate
        i = 0
        while nxt < stop_at:
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            n = mine[i % len(mine)]
            t0 = time.perf_counter()
            try:
                clerks[n].call_next(n, complete_current=True)
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)
            except ApiError:
                pass
            i += 1
            nxt += callers / rate

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=float, default=30.0, help="call-next per second, all windows together")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    ap.add_argument("--rounds", type=int, default=4, help="how many times the three phases take turns")
    ap.add_argument("--flooders", type=int, default=4,
                    help="threads (connections) sending wrong passwords; 12 is more than the server's 8 threads")
    ap.add_argument("--flood-rate", type=float, default=200.0,
                    help="sign-in attempts per second, all flooding threads together (0: as fast as answered)")
    add_broker_option(ap)
    args = ap.parse_args()
    work = tempdir()
    config = bench_hall(work)
    config.write_text(config.read_text(encoding="utf-8") + '\n[security]\ntrusted_proxies = ["127.0.0.1"]\n',
                      encoding="utf-8")
    server = start_server(work, broker=args.broker, config=config)
    system = labels(server)
    phases: dict[str, dict] = {}
    try:
        kiosk = HallClient(server.url, token="demo-kiosk-1")
        for i in range(int(args.rate * args.seconds * 3 * args.rounds) + 300):
            kiosk.issue_ticket(BUSINESSES[i % len(BUSINESSES)])
        clerks = {}
        for n in WINDOWS:
            c = HallClient(server.url, retries=0)
            c.request("POST", "/auth/login", {"job_no": str(1000 + n), "password": "hallq-demo"},
                      headers={"X-Forwarded-For": f"192.168.1.{n}"})  # each clerk at their own machine
            c.token = None
            c.login(str(1000 + n), "hallq-demo")
            c.window_action(n, "sign-in")
            clerks[n] = c
        calls(clerks, args.rate, 2.0)  # warm up
        scenarios = {
            "idle": None,
            "flood_one_client": lambda i: "10.66.0.1",
            "flood_many_clients": lambda i: f"10.{100 + i // 65000 % 100}.{i // 250 % 250}.{i % 250 + 1}",
        }
        # the phases take turns, `--rounds` times: the machine's other load drifts over a minute,
        # and each phase should see as much of it as the others
        samples: dict[str, list[float]] = {name: [] for name in scenarios}
        outcomes: dict[str, Counter] = {name: Counter() for name in scenarios}
        flooded: dict[str, float] = {name: 0.0 for name in scenarios}
        for r in range(args.rounds):
            for name, addresses in scenarios.items():
                lock = threading.Lock()
                stop = threading.Event()
                threads = []
                if addresses is not None:
                    threads = [threading.Thread(target=flood, args=(
                        server.url, stop, (lambda i, k=k, r=r, a=addresses: a((r * 10 + k) * 100_000 + i)),
                        args.flood_rate / args.flooders, outcomes[name], lock)) for k in range(args.flooders)]
                    for t in threads:
                        t.start()
                    time.sleep(1.0)  # the flood is on before the first call
                started = time.perf_counter()
                samples[name] += calls(clerks, args.rate, args.seconds)
                stop.set()
                for t in threads:
                    t.join()
                flooded[name] += time.perf_counter() - started + (1.0 if threads else 0.0)
        for name in scenarios:
            phases[name] = {"call_next": percentiles(samples[name]),
                            "sign_in_attempts_per_second": round(sum(outcomes[name].values()) / flooded[name], 1),
                            "sign_in_answers": {str(k): v for k, v in sorted(outcomes[name].items())}}
        # the clerks still sign in from their own machines after both floods
        still = sum(1 for n in WINDOWS if HallClient(server.url, retries=0).request(
            "POST", "/auth/login", {"job_no": str(1000 + n), "password": "hallq-demo"},
            headers={"X-Forwarded-For": f"192.168.1.{n}"}).get("token"))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    idle = phases["idle"]["call_next"]["p95_ms"]
    emit({"benchmark": "call next (HTTP round trip) idle vs during a flood of wrong passwords", "system": system,
          "calls_per_second": args.rate, "seconds_per_phase": args.seconds, "rounds": args.rounds,
          "flooding_threads": args.flooders,
          "flood_attempts_per_second_asked": args.flood_rate or "as fast as answered",
          "phases": phases,
          "p95_ratio": {k: round(v["call_next"]["p95_ms"] / idle, 2) for k, v in phases.items() if k != "idle"},
          "clerks_signing_in_afterwards": f"{still}/{len(WINDOWS)}",
          "targets": {"p95_ratio": 2.0}, "machine": machine()})


if __name__ == "__main__":
    main()
