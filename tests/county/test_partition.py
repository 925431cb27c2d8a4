"""The county across real network hops: halls in network namespaces behind veth links with ``tc netem``, a partition
of several halls while they go on working, then the link's return (issue 13's partition target).

The topology, built with ``ip netns`` / ``ip link`` / ``tc`` (root is needed; CI runs as root):

* the county (PostgreSQL, the NATS broker, ``hallq platform serve``) in this namespace, on a Linux bridge
  ``10.213.N.1/24``;
* each hall in a namespace of its own (its server, its Mosquitto bridged to the county broker, a kiosk issuing
  tickets over the hall's loopback), joined to the bridge by a veth pair, the hall at ``10.213.N.(10+i)``; the
  platform reads the hall's journal at that address (the hall's reverse proxy, a TCP relay in its namespace);
* ``netem delay 300ms loss 5%`` on both ends of every hall's link (300 ms each way); the partition is
  ``loss 100%`` on both ends (a cut line: no reset, packets vanish) for the partitioned halls.

Then: 0 events lost, 0 counted twice (the platform's events are each hall's journal, entry for entry, with its
digest), every partitioned hall caught up within 60 s of the link's return, the connected hall heard throughout,
and issuing a ticket in every hall as fast during the partition as before it.

The default size is small (``HALLQ_PARTITION_HALLS=4`` halls of which ``HALLQ_PARTITION_CUT=3`` partitioned for
``HALLQ_PARTITION_SECONDS=60``); issue 13's full size is ``HALLQ_PARTITION_HALLS=21 HALLQ_PARTITION_CUT=20
HALLQ_PARTITION_SECONDS=600``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from county import db as cdb
from county import intake
from county.broker import BrokerSettings, CountyBroker, bridge_files
from county.config import load_county
from hallq import contract
from hallq.client import HallClient, free_port
from hallq.testing import TINY, wait_until
from launcher.processes import ServerProcess
from tests.county.conftest import PLATFORM_PASSWORD, Platform, sql

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto]

HALLS = int(os.environ.get("HALLQ_PARTITION_HALLS", "4"))
CUT = int(os.environ.get("HALLQ_PARTITION_CUT", "3"))
PARTITION_SECONDS = float(os.environ.get("HALLQ_PARTITION_SECONDS", "60"))
CATCH_UP_SECONDS = 60.0  # issue 13: every hall caught up within 60 s of the link's return
NETEM = "delay 300ms loss 5%"
# a ticket issued in a hall, p99: the hall must not notice the county's network. The bench target is 30 ms under
# load on a quiet machine (issue 16); this machine's two cores are shared with the county, the other halls and
# other suites, so the bound is generous and the partition is also compared with the same hall before it.
ISSUE_P99_BOUND = 0.5
JOURNAL_PORT = 8080
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and out.returncode:
        raise RuntimeError(f"ip {' '.join(args)} failed: {out.stderr.strip()}")
    return out


def tc(*args: str) -> None:
    out = subprocess.run(["tc", *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"tc {' '.join(args)} failed: {out.stderr.strip()}")


def enter(ns: str) -> None:
    """Move the calling thread (only it: a network namespace is per thread) into ``ns``; what it creates from then
    on (sockets, child processes) lives there."""
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
    finally:
        os.close(fd)


class Relay:
    """The hall's reverse proxy: ``address:port`` on its link to the hall server on its loopback."""

    def __init__(self, address: str, port: int, target: int) -> None:
        self.target = target
        self.server = socket.create_server((address, port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                if self.server.fileno() < 0:
                    return
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.server.close()


class Net:
    """The bridge in this namespace and one namespace + veth pair per hall; removed whatever happens."""

    def __init__(self) -> None:
        tag = os.getpid() % 100000
        self.prefix = f"10.213.{20 + os.getpid() % 200}"
        self.bridge = f"hqb{tag}"
        self.county = f"{self.prefix}.1"
        self.namespaces: list[str] = []
        self.links: list[str] = []

    def up(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.links.append(self.bridge)
        ip("addr", "add", f"{self.county}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def add_hall(self, i: int) -> tuple[str, str, str, str]:
        """A namespace for hall ``i``: (its name, its address, the county end of its link, the hall end)."""
        tag = os.getpid() % 100000
        ns, outer, inner = f"hq{tag}-{i}", f"hq{tag}r{i}", f"hq{tag}h{i}"
        ip("netns", "add", ns)
        self.namespaces.append(ns)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        self.links.append(outer)
        ip("link", "set", inner, "netns", ns)
        ip("link", "set", outer, "master", self.bridge)
        ip("link", "set", outer, "up")
        address = f"{self.prefix}.{10 + i}"
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        return ns, address, outer, inner

    def down(self) -> None:
        for ns in self.namespaces:
            ip("netns", "del", ns, check=False)  # its end of the veth goes with it, and so does the pair
        for link in self.links:
            ip("link", "del", link, check=False)


class NsHall:
    """A tiny hall in its own namespace: its server and Mosquitto, its link to the county with netem on it."""

    def __init__(self, folder: Path, site: str, net: Net, i: int) -> None:
        self.site = site
        self.key = f"county-key-{site}"
        self.ns, self.address, self.outer, self.inner = net.add_hall(i)
        self.pool = ThreadPoolExecutor(1, initializer=enter, initargs=(self.ns,), thread_name_prefix=f"ns-{site}")
        conf = folder / "conf"
        conf.mkdir(parents=True)
        shutil.copy(TINY.parent / "services.toml", conf / "services.toml")
        text = TINY.read_text(encoding="utf-8").replace('site = "tiny"', f'site = "{site}"', 1)
        text = text.replace("daily_limit = 5\n", "daily_limit = 9999\n", 1)
        text = text.replace("[hours]", f'[mqtt]\nurl = ""\nembedded_listen = "127.0.0.1:{free_port()}"\n\n[hours]', 1)
        text += (f'\n[[devices]]\nid = "county"\nkind = "county"\n'
                 f'key_sha256 = "{hashlib.sha256(self.key.encode()).hexdigest()}"\n')
        self.conf = conf
        self.config = conf / "hall.toml"
        self.config.write_text(text, encoding="utf-8")
        self.server = ServerProcess(folder / "data", config=self.config, broker="hall")
        self.relay: Relay | None = None
        self.issued: list[tuple[float, float]] = []  # (when, seconds it took)
        self.failures: list[str] = []

    def run(self, fn, *args):
        """``fn(*args)`` in the hall's namespace."""
        return self.pool.submit(fn, *args).result()

    @property
    def journal_url(self) -> str:
        return f"http://{self.address}:{JOURNAL_PORT}"  # the namespace's own ports: the same in every hall

    def start(self) -> None:
        def go():
            self.server.start(timeout=90)
            self.relay = Relay(self.address, JOURNAL_PORT, self.server.port)

        self.run(go)

    def netem(self, spec: str) -> None:
        for dev, ns in ((self.outer, None), (self.inner, self.ns)):
            tc(*(["-n", ns] if ns else []), "qdisc", "replace", "dev", dev, "root", "netem", *spec.split())

    def cut(self, netem: bool) -> None:
        """The line is cut: with netem, every packet lost both ways (no reset, like a cut cable); without, the
        link's carrier goes down at the county's end (the hall's end sees no carrier either)."""
        if netem:
            self.netem("delay 300ms loss 100%")
        else:
            ip("link", "set", self.outer, "down")

    def heal(self, netem: bool) -> None:
        if netem:
            self.netem(NETEM)
        else:
            ip("link", "set", self.outer, "up")

    def kiosk(self, stop: threading.Event, every: float = 0.25) -> threading.Thread:
        """Issue a ticket every ``every`` s through the hall's API (from inside the hall), timing each."""
        def loop():
            enter(self.ns)
            c = HallClient(self.server.url, token="demo-kiosk-1", retries=0, timeout=10)
            while not stop.is_set():
                t = time.monotonic()
                try:
                    c.issue_ticket("alpha")
                    self.issued.append((t, time.monotonic() - t))
                except Exception as e:
                    self.failures.append(f"{e.__class__.__name__}: {e}"[:200])
                stop.wait(max(0.0, every - (time.monotonic() - t)))
            c.close()

        th = threading.Thread(target=loop, name=f"kiosk-{self.site}", daemon=True)
        th.start()
        return th

    def journal(self) -> list[dict]:
        def read():
            c = HallClient(self.server.url, token=self.key)
            out, after = [], 0
            while True:
                page = c.get(f"/journal?after={after}&limit=1000")
                if not page["entries"]:
                    break
                out += page["entries"]
                after = page["next_after"]
            c.close()
            return out

        return self.run(read)

    def stop(self) -> None:
        self.server.stop()
        if self.relay:
            self.relay.close()
        self.pool.shutdown(wait=False)


def has_netem(dev: str) -> bool:
    """Whether this kernel has netem (sch_netem): some do without it (a minimal VM kernel)."""
    out = subprocess.run(["tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", "1ms"], capture_output=True,
                         text=True)
    subprocess.run(["tc", "qdisc", "del", "dev", dev, "root"], capture_output=True)
    return out.returncode == 0


def p99(samples: list[float]) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))] if s else 0.0


@pytest.fixture
def net():
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        pytest.skip("the partition test needs root with ip and tc (iproute2) to build network namespaces")
    probe = f"hqprobe{os.getpid() % 100000}"
    out = ip("netns", "add", probe, check=False)
    if out.returncode:
        pytest.skip(f"cannot create a network namespace here (ip netns add: {out.stderr.strip()}); "
                    "run as root on a kernel with network namespaces")
    ip("netns", "del", probe, check=False)
    n = Net()
    try:
        n.up()
        yield n
    finally:
        n.down()


def test_a_partition_of_halls_across_real_network_hops_loses_nothing_and_counts_nothing_twice(net, tmp_path, county_db):
    sites = [f"hall-{i:02d}" for i in range(HALLS)]
    cut_sites, connected = sites[:CUT], sites[CUT:]
    halls: dict[str, NsHall] = {}
    broker = platform = None
    stop = threading.Event()
    kiosks: list[threading.Thread] = []
    netem = has_netem(net.bridge)
    if not netem:
        message = ("this kernel has no netem (sch_netem): the links carry no added latency or loss, and the "
                   "partition takes the link's carrier down instead")
        if os.environ.get("HALLQ_PARTITION_REQUIRE_NETEM"):
            pytest.fail(message + " (HALLQ_PARTITION_REQUIRE_NETEM is set)")
        warnings.warn(message, stacklevel=1)
    try:
        mqtt_port = free_port()
        for i, site in enumerate(sites):
            halls[site] = NsHall(tmp_path / site, site, net, i)
        cfg_path = tmp_path / "county.toml"
        lines = ['[county]\nid = "netcounty"\nname = { zh-Hans = "网络县", en = "Network county" }\n',
                 f'[broker]\nurl = "mqtt://{net.county}:{mqtt_port}"\nusername = "platform"\n'
                 'password = "env:HALLQ_COUNTY_BROKER_PASSWORD"\n',
                 "[ingest]\nreconcile_seconds = 2\ncatchup_page = 200\n"]
        for site, h in halls.items():
            (tmp_path / f"{site}.key").write_text(h.key + "\n")
            lines.append(f'[[halls]]\nsite = "{site}"\nlevel = "village"\nname = {{ zh-Hans = "{site}" }}\n'
                         f'journal_url = "{h.journal_url}"\n'
                         f'credential = "file:{tmp_path / (site + ".key")}"\n')
        cfg_path.write_text("\n".join(lines), encoding="utf-8")
        os.environ["HALLQ_COUNTY_BROKER_PASSWORD"] = PLATFORM_PASSWORD
        cfg = load_county(cfg_path, database_url=county_db)
        cdb.migrate(county_db)
        broker = CountyBroker(cfg, BrokerSettings(folder=tmp_path / "broker", mqtt_listen=f"{net.county}:{mqtt_port}"))
        broker.start()
        for site, h in halls.items():
            bridge_files(load_county(cfg_path, need_database=False), tmp_path / "broker", site,
                         f"{net.county}:{mqtt_port}", h.conf)
            h.start()
            if netem:
                h.netem(NETEM)
        platform = Platform(tmp_path, cfg_path, county_db)
        platform.start()

        def progress(site: str) -> dict:
            rows = sql(county_db, "SELECT * FROM hall_progress WHERE site = %s", (site,))
            return rows[0] if rows else {"high_water": 0}

        def caught_up(site: str) -> bool:
            return progress(site)["high_water"] == len(halls[site].journal())

        kiosks = [h.kiosk(stop) for h in halls.values()]
        wait_until(lambda: all(caught_up(s) for s in sites), 120, "every hall heard over its netem link")
        t_cut = time.monotonic()
        for s in cut_sites:
            halls[s].cut(netem)
        before = {s: progress(s)["high_water"] for s in connected}
        stop_at = t_cut + PARTITION_SECONDS
        while time.monotonic() < stop_at:  # the connected halls are heard all along
            time.sleep(min(5.0, max(0.0, stop_at - time.monotonic())))
        for s in connected:
            assert progress(s)["high_water"] > before[s], f"hall {s}, not partitioned, was not heard during it"
        assert all(progress(s)["high_water"] < len(halls[s].journal()) for s in cut_sites), \
            "a partitioned hall was heard during its partition: the cut did not cut"
        t_heal = time.monotonic()
        for s in cut_sites:
            halls[s].heal(netem)
        stop.set()
        for k in kiosks:
            k.join(30)
        wait_until(lambda: all(caught_up(s) for s in sites), CATCH_UP_SECONDS,
                   "every partitioned hall caught up within 60 s of its link's return")
        caught_up_in = time.monotonic() - t_heal

        for site, h in halls.items():  # 0 lost, 0 twice: the platform's events are the hall's journal
            journal = h.journal()
            stored = {r["seq"]: r for r in sql(county_db, "SELECT seq, digest FROM events WHERE site = %s", (site,))}
            assert sorted(stored) == [e["seq"] for e in journal], f"hall {site}: the platform's events are not its journal"
            for e in journal:
                assert stored[e["seq"]]["digest"] == intake.digest(contract.journal_event(site, e)), (site, e["seq"])
        quarantined = sql(county_db, "SELECT site, reason, detail FROM quarantine")
        assert quarantined == [], quarantined

        for site, h in halls.items():  # the halls did not notice: every ticket issued, as fast as before
            assert h.failures == [], f"hall {site} failed to issue during the test: {h.failures[:3]}"
            during = [d for t, d in h.issued if t_cut <= t < t_heal]
            normal = [d for t, d in h.issued if t < t_cut]
            assert len(during) >= PARTITION_SECONDS, f"hall {site} issued only {len(during)} tickets during the cut"
            assert p99(during) <= max(ISSUE_P99_BOUND, 3 * p99(normal)), \
                f"hall {site}: issue p99 {p99(during) * 1000:.0f} ms during the partition, {p99(normal) * 1000:.0f} before"
        print(f"\n{'netem ' + NETEM if netem else 'no netem'}; partition of {len(cut_sites)} halls for "
              f"{PARTITION_SECONDS:.0f} s: caught up {caught_up_in:.1f} s "
              f"after the link's return; issue p99 during it "
              f"{max(p99([d for t, d in h.issued if t_cut <= t < t_heal]) for h in halls.values()) * 1000:.0f} ms")
    finally:
        stop.set()
        if platform is not None:
            platform.stop()
        for h in halls.values():
            h.stop()
        if broker is not None:
            broker.stop()
