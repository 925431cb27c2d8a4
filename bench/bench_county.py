"""County ingestion throughput and commit-to-visible latency (targets: ≥ 5,000 events/s sustained, a hall's
commit visible in the supervision view within 2 s p99; issue 13).

The real path from the county broker on: a PostgreSQL cluster of the benchmark's own (Debian's binaries, a free
port), the county's NATS broker (MQTT, JetStream), and ``hallq platform serve`` as a process, for a simulated
county of ``--halls`` halls (default 163: 1 centre + 12 towns + 150 village stations). ``--procs`` publisher
processes publish journal events of all the halls but one, round robin, at QoS 1 as fast as the broker takes
them (or ``--rate`` events/s in all), for ``--seconds``; the remaining hall is the probe: one event every
``--probe-ms``, timed from its publish (the hall's commit publishes it) to its hall's high-water mark reaching it
in PostgreSQL, which is what the console folds and shows (it folds on every page view).

The publishers write MQTT on a plain socket (:class:`RawPublisher`: pipelined QoS 1, the broker's PUBACKs counted
as they come) so that the load generator costs a tenth of what paho did and takes little of the cores it shares
with what it measures. ``cpu`` in the JSON is the CPU seconds per 1,000 events stored of the platform, PostgreSQL,
NATS and the publishers (from ``/proc``): the figure that holds on a busy machine, where events/s do not.

What it does not include: the halls' own Mosquitto and their bridges (one more hop each, per hall, not the
county's bottleneck). Publishers, broker, platform and PostgreSQL share this machine's cores: the figures say so
and are indicative.

    .venv/bin/python bench/bench_county.py [--seconds 20] [--halls 163] [--procs 2] [--rate 0] [--probe-ms 100]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
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
from hallq import contract, mqttwire
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


LAG = 100  # --mix lifecycle: a ticket is called and completed 100 tickets of its hall after its issue


def payload(site: str, seq: int, at: str | None = None, mix: str = "issue") -> bytes:
    """Event ``seq`` of hall ``site``: with ``mix`` "issue" every event issues a ticket; with "lifecycle" the events
    go issue, call, complete (the call and completion of the ticket issued LAG tickets before, so that the console's
    fold meets tickets of an earlier fold, as in a hall where people wait)."""
    at = at or datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    action, n, window, data = "issue", seq, None, {"channel": "kiosk"}
    if mix == "lifecycle":
        n, phase = divmod(seq - 1, 3)
        if phase and n >= LAG:
            action, n, window, data = ("call", "complete")[phase - 1], n - LAG, 1, {}
        elif phase:
            action, data = "open_window" if phase == 1 else "resume", {}  # the first tickets: not called yet
            window = 1
    return contract.encode(contract.JOURNAL, {
        "site": site, "seq": seq, "at": at, "day": at[:10], "actor": "kiosk:k1", "action": action,
        "ticket": f"A{n % 1000:03d}" if action in ("issue", "call", "complete") else None, "business": "alpha",
        "window": window, "data": data})


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


class RawPublisher:
    """A QoS 1 publisher on a plain socket, pipelined: PUBLISH packets built by hallq/mqttwire.py, written in chunks,
    the broker's PUBACKs read as they come, at most ``window`` unacknowledged. paho-mqtt costs ~40 µs of Python a
    message (its packet objects, a write per message): as the load generator it took as much CPU as the platform
    it measured, on the same two cores. This is the load generator only; the platform receives with
    county/receiver.py (the same codec)."""

    def __init__(self, port: int, client_id: str, window: int = 1000) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.window = window
        self.next_id = 0
        self.unacked = 0
        self._rest = b""
        self.sock.sendall(mqttwire.connect(client_id, 60, username="bench", password=PUBLISHER_PASSWORD))
        ack = self._read(4)
        if ack[0] != 0x20 or ack[3] != 0:
            raise RuntimeError(f"the county broker refused the publisher: CONNACK {ack!r}")

    def _read(self, n: int) -> bytes:
        while len(self._rest) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the county broker closed the publisher's connection")
            self._rest += chunk
        out, self._rest = self._rest[:n], self._rest[n:]
        return out

    def _acks(self, block: bool) -> None:
        """Count the PUBACKs that have arrived (all four bytes, 0x40 0x02 id); wait for one when ``block``."""
        self.sock.setblocking(block)
        try:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the county broker closed the publisher's connection")
            self._rest += chunk
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        whole = len(self._rest) // 4 * 4
        if whole:
            if self._rest[0] != 0x40:
                raise RuntimeError(f"expected PUBACKs from the broker, got {self._rest[:8]!r}")
            self.unacked -= whole // 4
            self._rest = self._rest[whole:]

    def publish_many(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Publish (topic, payload) pairs at QoS 1; returns once they are written (not necessarily acknowledged)."""
        while self.unacked + len(messages) > self.window:
            self._acks(block=True)
        out = []
        for topic, body in messages:
            self.next_id = self.next_id % 65535 + 1
            out.append(mqttwire.publish(topic, body, qos=1, mid=self.next_id))
        self.sock.sendall(b"".join(out))
        self.unacked += len(messages)
        self._acks(block=False)

    def drain(self) -> None:
        while self.unacked > 0:
            self._acks(block=True)

    def close(self) -> None:
        self.drain()
        self.sock.sendall(mqttwire.DISCONNECT)
        self.sock.close()


def publisher(port: int, halls: list[str], seconds: float, rate: float, out, mix: str = "issue") -> None:
    """Publish the halls' events round robin for ``seconds``; send back (events published, seconds taken, the last
    seq of each hall, this process's CPU seconds)."""
    c = RawPublisher(port, f"bench-{os.getpid()}")
    topics = {site: f"hallq/{site}/journal".encode() for site in halls}
    seq = dict.fromkeys(halls, 0)
    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        at = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        batch = []
        for site in halls:
            seq[site] += 1
            batch.append((topics[site], payload(site, seq[site], at, mix)))
        c.publish_many(batch)
        n += len(batch)
        if rate:
            ahead = n / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    c.drain()
    took = time.monotonic() - start
    c.close()
    t = os.times()
    out.send((n, took, seq, t.user + t.system))


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def tree_cpu(root: int, reaped: bool = False) -> float:
    """User + system CPU seconds of ``root`` and every live process below it, all threads; with ``reaped``, also
    what its children that have exited cost (``cutime``/``cstime``: PostgreSQL's postmaster reaps a backend per
    closed connection)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (f := _stat(int(d.name))):
            parent[int(d.name)] = int(f[1])
            ticks[int(d.name)] = int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if reaped else 0)
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo += [c for c, pp in parent.items() if pp == p]
    return total / os.sysconf("SC_CLK_TCK")


class CpuWindow:
    """CPU seconds of the platform's processes (Granian's master and worker), PostgreSQL's (postmaster, its
    backends, the exited ones) and NATS over a window: the figure that does not depend on how busy the machine
    is."""

    def __init__(self, platform_pid: int, pg_pid: int, nats_pid: int) -> None:
        self.pids = {"platform": (platform_pid, False), "postgresql": (pg_pid, True), "nats": (nats_pid, False)}
        self.t0 = time.monotonic()
        self.start = self._sample()

    def _sample(self) -> dict[str, float]:
        return {k: tree_cpu(pid, reaped) for k, (pid, reaped) in self.pids.items()}

    def result(self, events: int, publishers_cpu_s: float) -> dict:
        end = self._sample()
        used = {k: end[k] - self.start[k] for k in end}
        used["publishers"] = publishers_cpu_s
        per = {f"{k}_cpu_s_per_1000_events": round(v * 1000 / events, 3) if events else None for k, v in used.items()}
        return {**per, "window_s": round(time.monotonic() - self.t0, 2), "events": events,
                "cpu_s": {k: round(v, 2) for k, v in used.items()},
                "counted": "platform: hallq platform serve (Granian master + worker, all threads); postgresql: the "
                           "postmaster, its live processes and the exited backends it reaped; nats: nats-server; "
                           "publishers: the load generator's processes (the probe and sampler threads not counted)"}


def postmaster_pid(cluster: LocalCluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


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
    ap.add_argument("--mix", choices=("issue", "lifecycle"), default="issue",
                    help="issue: every event issues a ticket; lifecycle: issue, call, complete (see payload)")
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
            p = mp.Process(target=publisher, args=(mqtt_port, share, args.seconds, args.rate / args.procs, theirs,
                                                    args.mix))
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
        cpu = CpuWindow(platform.pid, postmaster_pid(cluster), broker.proc.pid)
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
        cpu_used = cpu.result(stored, sum(r[3] for r in results))
        samples.append((total_s, stored))
        # sustained: the rate from 10 % to 90 % of the events stored (start and tail left out)
        first = next(s for s in samples if s[1] >= expected * 0.1)
        last = next((s for s in samples if s[1] >= expected * 0.9), samples[-1])
        sustained = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else 0.0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            health = r.read().decode()
        emit({
            "benchmark": "county_ingest",
            "halls": len(names), "publisher_procs": args.procs, "seconds": args.seconds, "mix": args.mix,
            "rate_asked": args.rate or "as fast as the broker takes them",
            "published": published, "published_per_s": round(published / publish_s, 1),
            "stored": stored, "all_stored": stored >= expected,
            "ingested_per_s_sustained": round(sustained, 1),
            "ingested_per_s_overall": round(stored / total_s, 1),
            "drain_s_after_publishing": round(total_s - publish_s, 2),
            "commit_to_visible_ms": percentiles(latencies), "probes": len(latencies),
            "cpu": cpu_used,
            "platform_health": health[:600],
            "path": "publishers (MQTT QoS 1) -> NATS (JetStream) -> hallq platform -> PostgreSQL",
            "machine": machine(),
        })
    finally:
        try:
            if platform is not None and platform.poll() is None:
                os.killpg(platform.pid, 15)
                try:
                    platform.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(platform.pid, 9)
                    platform.wait(5)
        finally:
            if broker is not None:
                broker.stop()
            cluster.stop("fast")


if __name__ == "__main__":
    main()
