"""County ingestion throughput and commit-to-visible latency (targets: ≥ 5,000 events/s sustained, a hall's
commit visible in the supervision view within 2 s p99; issue 13).

The real path from the county broker on: a PostgreSQL cluster of the benchmark's own (Debian's binaries, a free
port), the county's NATS broker (MQTT, JetStream), and ``hallq platform serve`` as a process, for a simulated
county of ``--halls`` halls (default 163: 1 centre + 12 towns + 150 village stations). ``--procs`` publisher
processes publish journal events of all the halls but one, round robin, at QoS 1 as fast as the broker takes
them (or ``--rate`` events/s in all), for ``--seconds``; the remaining hall is the probe: one event every
``--probe-ms``, timed from its publish (the hall's commit publishes it) to its hall's high-water mark reaching it
in PostgreSQL, which is what the console folds and shows (it folds on every page view).

What it does not include: the halls' own Mosquitto and their bridges (one more hop each, per hall, not the
county's bottleneck). Publishers, broker, platform and PostgreSQL share this machine's cores: the figures say so
and are indicative.

    .venv/bin/python bench/bench_county.py [--seconds 20] [--halls 163] [--procs 2] [--rate 0] [--probe-ms 100]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from common import emit, machine, percentiles, tempdir

from county import db as cdb
from county.broker import BrokerSettings, CountyBroker
from county.config import load_county
from county.pgcluster import LocalCluster
from hallq import contract
from hallq.client import free_port

PLATFORM_PASSWORD = "bench-platform-secret"
PUBLISHER_PASSWORD = "bench-publisher-secret"


def sites(n: int) -> list[str]:
    villages = max(0, n - 13)
    return (["centre"] + [f"town-{i:02d}" for i in range(1, min(n, 13))]
            + [f"village-{i:03d}" for i in range(1, villages + 1)])[:n]


def county_toml(folder: Path, names: list[str], mqtt_port: int) -> Path:
    lines = ['[county]\nid = "benchcounty"\nname = { zh-Hans = "基准县", en = "Bench county" }\n',
             f'[broker]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\nusername = "platform"\n'
             'password = "env:HALLQ_COUNTY_BROKER_PASSWORD"\n',
             "[ingest]\nreconcile_seconds = 3600\n"]  # live ingestion is measured, not the catch-up
    for site in names:
        level = "city" if site == "centre" else "town" if site.startswith("town") else "village"
        # no hall server behind it: the start's catch-up fails for each hall and is retried later (not measured)
        lines.append(f'[[halls]]\nsite = "{site}"\nlevel = "{level}"\nname = {{ zh-Hans = "{site}" }}\n'
                     f'journal_url = "http://127.0.0.1:1"\ncredential = "env:HALLQ_BENCH_NO_KEY"\n')
    path = folder / "county.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def payload(site: str, seq: int) -> bytes:
    at = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    return contract.encode(contract.JOURNAL, {
        "site": site, "seq": seq, "at": at, "day": at[:10], "actor": "kiosk:k1", "action": "issue",
        "ticket": f"A{seq % 1000:03d}", "business": "alpha", "window": None, "data": {"channel": "kiosk"}})


def connect(port: int, client_id: str):
    import paho.mqtt.client as paho

    ready = threading.Event()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    c.username_pw_set("bench", PUBLISHER_PASSWORD)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(5000)
    c.on_connect = lambda *a: ready.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not ready.wait(10):
        raise RuntimeError("the publisher could not connect to the county broker")
    return c


def publisher(port: int, halls: list[str], seconds: float, rate: float, out) -> None:
    """Publish the halls' events round robin for ``seconds``; send back (events published, seconds taken)."""
    c = connect(port, f"bench-{os.getpid()}")
    seq = dict.fromkeys(halls, 0)
    n, start = 0, time.monotonic()
    pending = []
    while time.monotonic() - start < seconds:
        for site in halls:
            seq[site] += 1
            pending.append(c.publish(f"hallq/{site}/journal", payload(site, seq[site]), qos=1))
            n += 1
        if len(pending) >= 500:  # QoS 1: wait for the broker's acknowledgements before running ahead
            pending[-1].wait_for_publish(30)
            pending = [p for p in pending if not p.is_published()]
        if rate:
            ahead = n / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    for p in pending:
        p.wait_for_publish(30)
    took = time.monotonic() - start
    c.loop_stop()
    c.disconnect()
    out.send((n, took, seq))


def high_water(url: str) -> int:
    with cdb.connect(url, autocommit=True) as conn:
        return int(conn.execute("SELECT COALESCE(sum(high_water), 0) AS n FROM hall_progress").fetchone()["n"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--halls", type=int, default=163)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--rate", type=float, default=0, help="events/s in all (0: as fast as the broker takes them)")
    ap.add_argument("--probe-ms", type=float, default=100)
    args = ap.parse_args()
    work = tempdir()
    os.environ["HALLQ_COUNTY_BROKER_PASSWORD"] = PLATFORM_PASSWORD
    cluster = LocalCluster(work / "pg", free_port())
    broker = platform = None
    try:
        cluster.start()
        cluster.wait_ready()
        url = cluster.create_database("bench_county")
        cdb.migrate(url)
        names = sites(args.halls)
        mqtt_port = free_port()
        cfg_path = county_toml(work, names, mqtt_port)
        cfg = load_county(cfg_path, database_url=url)
        broker = CountyBroker(cfg, BrokerSettings(folder=work / "broker", mqtt_listen=f"127.0.0.1:{mqtt_port}",
                                                  extra_users={"bench": PUBLISHER_PASSWORD}))
        broker.start()
        port = free_port()
        logf = open(work / "platform.log", "ab")
        platform = subprocess.Popen([sys.executable, "-m", "launcher", "platform", "serve", "--config", str(cfg_path),
                                     "--port", str(port), "--database", url], stdout=logf, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=Path(__file__).resolve().parent.parent)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if b'"broker_connected":true' in r.read().replace(b" ", b""):
                        break
            except OSError:
                pass
            if platform.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the platform did not start: {(work / 'platform.log').read_text()[-2000:]}")
            time.sleep(0.2)

        probe, loaded = names[0], names[1:]
        shares = [loaded[i::args.procs] for i in range(args.procs)]
        pipes, procs = [], []
        for share in shares:
            mine, theirs = mp.Pipe(duplex=False)
            p = mp.Process(target=publisher, args=(mqtt_port, share, args.seconds, args.rate / args.procs, theirs))
            p.start()
            pipes.append(mine)
            procs.append(p)

        latencies: list[float] = []
        stop = threading.Event()

        def probing() -> None:
            c = connect(mqtt_port, "bench-probe")
            with cdb.connect(url, autocommit=True) as conn:
                seq = 0
                while not stop.is_set():
                    seq += 1
                    sent = time.monotonic()
                    c.publish(f"hallq/{probe}/journal", payload(probe, seq), qos=1)
                    while True:
                        row = conn.execute("SELECT high_water FROM hall_progress WHERE site = %s",
                                           (probe,)).fetchone()
                        if row and row["high_water"] >= seq:
                            latencies.append((time.monotonic() - sent) * 1000)
                            break
                        if time.monotonic() - sent > 30:
                            latencies.append(30000.0)
                            break
                        time.sleep(0.005)
                    stop.wait(max(0.0, args.probe_ms / 1000 - (time.monotonic() - sent)))
            c.loop_stop()
            c.disconnect()

        t0 = time.monotonic()
        prober = threading.Thread(target=probing, daemon=True)
        prober.start()
        samples = []  # (seconds since start, events accounted for)
        while any(p.is_alive() for p in procs):
            samples.append((time.monotonic() - t0, high_water(url)))
            time.sleep(1)
        results = [pipe.recv() for pipe in pipes]
        published = sum(r[0] for r in results)
        publish_s = max(r[1] for r in results)
        stop.set()
        prober.join(40)
        expected = published + len(latencies)
        drain_deadline = time.monotonic() + 120
        while (stored := high_water(url)) < expected and time.monotonic() < drain_deadline:
            samples.append((time.monotonic() - t0, stored))
            time.sleep(0.5)
        total_s = time.monotonic() - t0
        samples.append((total_s, stored))
        # sustained: the rate from 10 % to 90 % of the events stored (start and tail left out)
        first = next(s for s in samples if s[1] >= expected * 0.1)
        last = next((s for s in samples if s[1] >= expected * 0.9), samples[-1])
        sustained = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else 0.0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            health = r.read().decode()
        emit({
            "benchmark": "county_ingest",
            "halls": len(names), "publisher_procs": args.procs, "seconds": args.seconds,
            "rate_asked": args.rate or "as fast as the broker takes them",
            "published": published, "published_per_s": round(published / publish_s, 1),
            "stored": stored, "all_stored": stored >= expected,
            "ingested_per_s_sustained": round(sustained, 1),
            "ingested_per_s_overall": round(stored / total_s, 1),
            "drain_s_after_publishing": round(total_s - publish_s, 2),
            "commit_to_visible_ms": percentiles(latencies), "probes": len(latencies),
            "platform_health": health[:600],
            "path": "publishers (MQTT QoS 1) -> NATS (JetStream) -> hallq platform -> PostgreSQL",
            "machine": machine(),
        })
    finally:
        if platform is not None and platform.poll() is None:
            os.killpg(platform.pid, 15)
            platform.wait(15)
        if broker is not None:
            broker.stop()
        cluster.stop("fast")


if __name__ == "__main__":
    main()
