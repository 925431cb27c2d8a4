"""Network namespaces for the partition test (test_partition.py): a county and its halls on real network hops.

The county platform and each hall live in network namespaces joined by veth links through a router namespace;
each hall's link can be impaired (tc netem where the kernel has it, else tools/linkemu.py over a TUN device) and
cut. The test itself (what it drives and checks) stays in test_partition.py.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hallq.client import HallClient, free_port
from hallq.testing import TINY
from launcher.processes import ServerProcess


ROOT = Path(__file__).resolve().parents[2]
IMPAIR = os.environ.get("HALLQ_PARTITION_IMPAIR", "auto")
DELAY_MS, LOSS = 300, 0.05  # each way, on every hall's link
NETEM = f"delay {DELAY_MS}ms loss {LOSS:.0%}"
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


def pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy what ``a`` receives to ``b`` until either end closes, then shut both down and close them (one
    direction of a TCP relay; run one per direction, each on its own thread)."""
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
        s.close()


def enter(ns: str) -> None:
    """Move the calling thread (only it: a network namespace is per thread) into ``ns``; what it creates from then
    on (sockets, child processes) lives there."""
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
    finally:
        os.close(fd)


def _linkemu():
    spec = importlib.util.spec_from_file_location("linkemu", ROOT / "tools" / "linkemu.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["linkemu"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


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
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.server.close()


class Net:
    """The router's namespace (the halls' bridge, the county's link, the emulator when there is one) and one
    namespace + veth pair per hall; removed whatever happens."""

    def __init__(self, tmp: Path) -> None:
        self.tag = os.getpid() % 100000
        self.prefix = f"10.213.{20 + os.getpid() % 200}"
        self.router = f"hq{self.tag}-r"
        self.bridge = "halls"  # in the router's namespace
        self.uplink = f"hq{self.tag}c"  # the county's end of its link, in this namespace; "county" at the router
        self.county = f"{self.prefix}.254"
        self.gateway = f"{self.prefix}.1"
        self.halls_net = f"{self.prefix}.0/25"
        self.namespaces: list[str] = []
        self.control_path = str(tmp / "linkemu.sock")
        self.emulator: subprocess.Popen | None = None
        self.control = None  # linkemu.Control, in tun mode
        self.emulator_log = tmp / "linkemu.log"

    def up(self) -> None:
        r = self.router
        ip("netns", "add", r)
        self.namespaces.append(r)
        ip("-n", r, "link", "set", "lo", "up")
        ip("-n", r, "link", "add", self.bridge, "type", "bridge")
        ip("-n", r, "addr", "add", f"{self.gateway}/25", "dev", self.bridge)
        ip("-n", r, "link", "set", self.bridge, "up")
        ip("link", "add", self.uplink, "type", "veth", "peer", "name", "county", "netns", r)
        ip("addr", "add", f"{self.county}/30", "dev", self.uplink)
        ip("link", "set", self.uplink, "up")
        ip("-n", r, "addr", "add", f"{self.prefix}.253/30", "dev", "county")
        ip("-n", r, "link", "set", "county", "up")
        ip("route", "add", self.halls_net, "via", f"{self.prefix}.253", "dev", self.uplink)
        ip("netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def add_hall(self, i: int) -> tuple[str, str, str, str]:
        """A namespace for hall ``i``: (its name, its address, the router's end of its link, the hall's end)."""
        ns, outer, inner = f"hq{self.tag}-{i}", f"hall{i}", "county"
        ip("netns", "add", ns)
        self.namespaces.append(ns)
        ip("-n", self.router, "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
        ip("-n", self.router, "link", "set", outer, "master", self.bridge)
        ip("-n", self.router, "link", "set", outer, "up")
        address = f"{self.prefix}.{10 + i}"
        ip("-n", ns, "addr", "add", f"{address}/25", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "route", "add", "default", "via", self.gateway)
        return ns, address, outer, inner

    def start_emulator(self) -> None:
        """tools/linkemu.py on the router: what it forwards from the halls' bridge and from the county's link goes
        through it, 300 ms and 5 % for every hall's address."""
        with open(self.emulator_log, "ab") as log:
            self.emulator = subprocess.Popen(
                ["ip", "netns", "exec", self.router, sys.executable, str(ROOT / "tools" / "linkemu.py"),
                 "--tun", "emu0", "--control", self.control_path, "--route-from", self.bridge,
                 "--route-from", "county", "--rule", f"{self.halls_net}:{DELAY_MS}:{LOSS * 100:g}"],
                stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.emulator.stdout.readline()  # "ready emu0" once it routes, nothing if it failed
        if not line.startswith("ready"):
            raise RuntimeError(f"tools/linkemu.py did not start: {line} {self.emulator_log.read_text()[-2000:]}")
        self.control = _linkemu().Control(self.control_path)

    def emulator_stats(self) -> dict:
        return self.control.stats() if self.control is not None else {}

    def down(self) -> None:
        if self.control is not None:
            self.control.close()
        if self.emulator is not None:
            self.emulator.terminate()
            try:
                self.emulator.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.emulator.kill()
        for ns in self.namespaces:
            ip("netns", "del", ns, check=False)  # its ends of the veths go with it, and so do the pairs
        ip("link", "del", self.uplink, check=False)


class NsHall:
    """A tiny hall in its own namespace: its server and Mosquitto, its link to the county through the router."""

    def __init__(self, folder: Path, site: str, net: Net, i: int) -> None:
        self.site = site
        self.net = net
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
        self._journal: list[dict] = []
        self._after = 0

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
        for dev, ns in ((self.outer, self.net.router), (self.inner, self.ns)):
            tc("-n", ns, "qdisc", "replace", "dev", dev, "root", "netem", *spec.split())

    def impair(self, mode: str) -> None:
        if mode == "netem":
            self.netem(NETEM)
        # tun: the emulator's rule for the halls' network holds this hall's address already

    def cut(self, mode: str) -> None:
        """The line is cut: every packet lost both ways (no reset, like a cut cable); with no impairment at all,
        the link's carrier goes down at the router's end (the hall's end sees no carrier either)."""
        if mode == "netem":
            self.netem(f"delay {DELAY_MS}ms loss 100%")
        elif mode == "tun":
            self.net.control.set(f"{self.address}/32", delay_ms=DELAY_MS, loss=1.0)
        else:
            ip("-n", self.net.router, "link", "set", self.outer, "down")

    def heal(self, mode: str) -> None:
        if mode == "netem":
            self.netem(NETEM)
        elif mode == "tun":
            self.net.control.clear(f"{self.address}/32")  # back to the halls' 300 ms / 5 %
        else:
            ip("-n", self.net.router, "link", "set", self.outer, "up")

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
        """The hall's journal as it is now, read from inside the hall (only what is new since the last read)."""
        def read():
            c = HallClient(self.server.url, token=self.key)
            try:
                while True:
                    page = c.get(f"/journal?after={self._after}&limit=1000")
                    if not page["entries"]:
                        break
                    self._journal += page["entries"]
                    self._after = page["next_after"]
            finally:
                c.close()
            return list(self._journal)

        return self.run(read)

    def stop(self) -> None:
        self.server.stop()
        if self.relay:
            self.relay.close()
        self.pool.shutdown(wait=False)


def has_netem(ns: str, dev: str) -> bool:
    """Whether this kernel has netem (sch_netem): some do without it (a minimal VM kernel, this machine's)."""
    out = subprocess.run(["tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", "delay", "1ms"],
                         capture_output=True, text=True)
    subprocess.run(["tc", "-n", ns, "qdisc", "del", "dev", dev, "root"], capture_output=True)
    return out.returncode == 0


def choose_impairment(net: Net) -> tuple[str, str]:
    """(``netem`` | ``tun`` | ``none``, why): as ``HALLQ_PARTITION_IMPAIR`` asks, failing when it cannot be had."""
    wanted = "netem" if os.environ.get("HALLQ_PARTITION_REQUIRE_NETEM") and IMPAIR == "auto" else IMPAIR
    if wanted not in ("auto", "netem", "tun", "none"):
        pytest.fail(f"HALLQ_PARTITION_IMPAIR={wanted!r}: say netem, tun, auto or none")
    netem = has_netem(net.router, "county") if wanted in ("auto", "netem") else False
    tun = os.path.exists("/dev/net/tun")
    if wanted == "netem" and not netem:
        pytest.fail("HALLQ_PARTITION_IMPAIR=netem (or HALLQ_PARTITION_REQUIRE_NETEM) but this kernel has no netem "
                    "(sch_netem): HALLQ_PARTITION_IMPAIR=tun emulates it in user space")
    if wanted == "tun" and not tun:
        pytest.fail("HALLQ_PARTITION_IMPAIR=tun but there is no /dev/net/tun here")
    if wanted == "auto":
        if netem:
            return "netem", "auto: the kernel has netem"
        if tun:
            return "tun", "auto: this kernel has no netem (sch_netem), so tools/linkemu.py on a TUN does it"
        pytest.fail("neither netem (sch_netem) nor /dev/net/tun here: no way to add latency and loss; "
                    "HALLQ_PARTITION_IMPAIR=none runs the partition without them")
    return wanted, f"HALLQ_PARTITION_IMPAIR={wanted}"
