"""The county's real parts for the tests: a PostgreSQL cluster, the NATS broker, hall servers, the platform.

* ``pg``: one PostgreSQL cluster per test session (Debian's initdb and pg_ctl, on a free port, as the
  ``postgres`` user when run as root); each test that writes gets a fresh database (``county_db``).
* :class:`County`: a county config in a temp folder, its NATS broker, hall servers with their own
  Mosquitto bridged to it through a :class:`Link` (a TCP hop the test can cut), and the platform
  (``hallq platform serve``) as a real process.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from county import db as cdb
from county import registry
from county.broker import BrokerSettings, CountyBroker, bridge_files
from county.config import load_county
from county.pgcluster import LocalCluster, pg_bin
from hallq.client import HallClient, free_port
from hallq.demo import DEMO_PASSWORD_HASH
from hallq.testing import TINY, wait_until
from launcher.processes import ServerProcess
from tests.county.netns import pipe

PLATFORM_PASSWORD = "platform-secret-for-tests"


@pytest.fixture(scope="session")
def pg(tmp_path_factory):
    try:
        pg_bin("initdb")
    except Exception as e:
        pytest.fail(f"{e}")
    folder = tmp_path_factory.mktemp("pg")
    cluster = LocalCluster(folder, free_port())
    cluster.start()
    cluster.wait_ready()
    yield cluster
    cluster.stop("immediate")


@pytest.fixture
def county_db(pg, request):
    name = "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]
    url = pg.create_database(name)
    return url


@pytest.fixture
def sample_db(county_db):
    """A migrated county database with the sample county's halls (config/county/county.toml) registered."""
    cdb.migrate(county_db)
    cfg = load_county(Path(__file__).resolve().parents[2] / "config" / "county" / "county.toml",
                      database_url=county_db)
    with cdb.connect(county_db) as conn:
        registry.sync(conn, cfg)
    return county_db


def sql(url: str, query: str, params=()) -> list[dict]:
    with cdb.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


class Link:
    """A TCP hop from a hall's bridge to the county broker that the test can cut and restore."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.up = threading.Event()
        self.up.set()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))  # its own port at once: no race for a free one
        self.port = self._server.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    def cut(self) -> None:
        self.up.clear()
        with self._lock:
            for s in self._socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._socks.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self._stop = True
        self.cut()
        self._server.close()


class Hall:
    """A tiny hall (its own server and Mosquitto) in the county, bridged through a :class:`Link`."""

    def __init__(self, folder: Path, site: str, county_port: int, broker_folder: Path, cfg_path: Path) -> None:
        self.site = site
        self.folder = folder
        self.key = f"county-key-{site}"
        self.link = Link(county_port)
        conf = folder / "conf"
        conf.mkdir(parents=True)
        shutil.copy(TINY.parent / "services.toml", conf / "services.toml")
        mqtt_port = free_port()
        text = TINY.read_text(encoding="utf-8").replace('site = "tiny"', f'site = "{site}"', 1)
        text = text.replace("daily_limit = 5\n", "daily_limit = 999\n", 1)
        text = text.replace("[hours]", f'[mqtt]\nurl = ""\nembedded_listen = "127.0.0.1:{mqtt_port}"\n\n[hours]', 1)
        text += (f'\n[[devices]]\nid = "county"\nkind = "county"\n'
                 f'key_sha256 = "{hashlib.sha256(self.key.encode()).hexdigest()}"\n')
        self.config = conf / "hall.toml"
        self.config.write_text(text, encoding="utf-8")
        self.server = ServerProcess(folder / "data", config=self.config, broker="hall")
        self.http_link = Link(self.server.port)  # the county reaches the hall's API through this hop
        self.bridge_args = (broker_folder, cfg_path, conf)

    def cut(self) -> None:
        """The hall's network to the county goes down: its bridge and its API, as seen from the county."""
        self.link.cut()
        self.http_link.cut()

    def restore(self) -> None:
        self.link.restore()
        self.http_link.restore()

    @property
    def county_url(self) -> str:
        return f"http://127.0.0.1:{self.http_link.port}"

    def write_bridge(self) -> None:
        broker_folder, cfg_path, conf = self.bridge_args
        bridge_files(load_county(cfg_path, need_database=False), broker_folder, self.site, f"127.0.0.1:{self.link.port}",
                     conf)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start(timeout=60)  # generous: the machine's two cores are shared with other suites

    def stop(self) -> None:
        self.server.stop()

    def issue(self, n: int) -> None:
        c = HallClient(self.url, token="demo-kiosk-1", retries=2)
        for _ in range(n):
            c.issue_ticket("alpha")
        c.close()

    def journal_top(self) -> int:
        c = HallClient(self.url, token=self.key)
        top = 0
        while True:
            page = c.get(f"/journal?after={top}&limit=1000")
            if not page["entries"]:
                break
            top = page["next_after"]
        c.close()
        return top

    def journal(self) -> list[dict]:
        c = HallClient(self.url, token=self.key)
        out, after = [], 0
        while True:
            page = c.get(f"/journal?after={after}&limit=1000")
            if not page["entries"]:
                break
            out += page["entries"]
            after = page["next_after"]
        c.close()
        return out


class Platform:
    """``hallq platform serve`` as a real process."""

    def __init__(self, folder: Path, config: Path, database: str) -> None:
        self.folder = folder
        self.config = config
        self.database = database
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = folder / "platform.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        env = {**os.environ, "HALLQ_COUNTY_BROKER_PASSWORD": PLATFORM_PASSWORD}
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "launcher", "platform", "serve", "--config", str(self.config), "--port",
                 str(self.port), "--database", self.database], env=env, stdout=logf, stderr=subprocess.STDOUT,
                start_new_session=True)
        import urllib.request

        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"platform exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    import json

                    return json.loads(r.read())["ingest"]["broker_connected"]
            except OSError:
                return False

        try:
            wait_until(healthy, timeout, "the platform is up and connected to the county broker")
        except TimeoutError as e:
            raise TimeoutError(f"{e}; its log:\n{self.log.read_text(errors='replace')[-3000:]}") from None

    def health(self) -> dict:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/health", timeout=5) as r:
            return json.loads(r.read())

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


class County:
    """A county of ``sites`` (tiny halls), plus registered halls without a server (``paper``)."""

    def __init__(self, folder: Path, database: str, sites: list[str], paper: list[str] = (),
                 reconcile: float = 1.0) -> None:
        self.folder = folder
        self.database = database
        self.broker_folder = folder / "county" / "broker"
        self.mqtt_port = free_port()
        self.cfg_path = folder / "county.toml"
        self.halls = {s: Hall(folder / s, s, self.mqtt_port, self.broker_folder, self.cfg_path) for s in sites}
        self.paper = list(paper)
        self.rogue_password = "rogue-secret"
        lines = [
            '[county]\nid = "testcounty"\nname = { zh-Hans = "测试县", en = "Test county" }\n',
            f'[broker]\nurl = "mqtt://127.0.0.1:{self.mqtt_port}"\nusername = "platform"\n'
            'password = "env:HALLQ_COUNTY_BROKER_PASSWORD"\n',
            f"[ingest]\nreconcile_seconds = {reconcile}\ncatchup_page = 50\n",
        ]
        for i, (site, hall) in enumerate(self.halls.items()):
            lines.append(f'[[halls]]\nsite = "{site}"\nlevel = "town"\nname = {{ zh-Hans = "{site}" }}\n'
                         f'journal_url = "{hall.county_url}"\ncredential = "file:{folder / (site + ".key")}"\n'
                         f"coordinates = [26.6, {104.8 + i / 100}]\nbusinesses = [\"alpha\", \"beta\"]\n")
            (folder / f"{site}.key").write_text(hall.key + "\n")
        for site in self.paper:  # registered, with no server: its catch-up fails and is retried
            lines.append(f'[[halls]]\nsite = "{site}"\nlevel = "village"\nname = {{ zh-Hans = "{site}" }}\n'
                         f'journal_url = "http://127.0.0.1:{free_port()}"\ncredential = "env:NO_SUCH_KEY"\n')
        lines.append(f'[[accounts]]\nusername = "sup"\nrole = "supervisor"\npassword_hash = "{DEMO_PASSWORD_HASH}"\n')
        first = next(iter(self.halls), None)
        if first:
            lines.append(f'[[accounts]]\nusername = "mgr"\nrole = "hall_manager"\nsite = "{first}"\n'
                         f'password_hash = "{DEMO_PASSWORD_HASH}"\n')
        self.cfg_path.write_text("\n".join(lines), encoding="utf-8")
        os.environ["HALLQ_COUNTY_BROKER_PASSWORD"] = PLATFORM_PASSWORD
        self.cfg = load_county(self.cfg_path, database_url=database)
        self.broker = CountyBroker(self.cfg, BrokerSettings(
            folder=self.broker_folder, mqtt_listen=f"127.0.0.1:{self.mqtt_port}",
            extra_users={"rogue": self.rogue_password}))
        self.platform = Platform(folder, self.cfg_path, database)

    def start(self) -> None:
        """Start everything; if a part fails, stop what had started (no broker or hall left running)."""
        try:
            self.broker.start()
            for hall in self.halls.values():
                hall.write_bridge()
                hall.start()
            self.platform.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.platform.stop()
        for hall in self.halls.values():
            hall.stop()
            hall.link.close()
            hall.http_link.close()
        self.broker.stop()

    # -- what the platform holds ----------------------------------------------------------------

    def events(self, site: str) -> list[dict]:
        return sql(self.database, "SELECT seq, digest, source, action FROM events WHERE site = %s ORDER BY seq",
                   (site,))

    def progress(self, site: str) -> dict:
        return sql(self.database, "SELECT * FROM hall_progress WHERE site = %s", (site,))[0]

    def caught_up(self, site: str) -> bool:
        """The platform holds every entry of the hall's journal, and its high-water mark is the journal's top."""
        top = self.halls[site].journal_top()
        p = self.progress(site)
        return top > 0 and p["high_water"] == top and len(self.events(site)) == top

    def assert_exactly_once(self, site: str) -> None:
        """Every journal entry of the hall is stored once, as the hall has it (same digest), and nothing else."""
        from county import intake
        from hallq import contract

        journal = self.halls[site].journal()
        stored = {e["seq"]: e for e in self.events(site)}
        assert sorted(stored) == [e["seq"] for e in journal], "the platform's events are not the hall's journal"
        for entry in journal:
            assert stored[entry["seq"]]["digest"] == intake.digest(contract.journal_event(site, entry)), entry


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    return wait_until(predicate, timeout, what)


def elapsed(since: float) -> float:
    return time.monotonic() - since


def console_login(client, username: str, password: str, **kwargs):
    """Sign in through the console's own form: its page first, for the double-submit token (county/console_web.py)."""
    form = client.get("/console/login", **kwargs)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": token},
                       **kwargs)
