"""``hallq county start``: a whole county on one machine, for a demo (issue 13, docs/county.md).

From a description of the county (``config/county/demo.toml``: the county, its ports, and each hall with
its sample, site, name, place in the tree, server port and broker port) it writes into the data dir:

* each hall's config folder ``halls/<site>/conf``: the sample's files, its hall.toml with the hall's own
  site, name, level, address, ``public_url`` port and ``embedded_listen`` broker port, and a
  ``[[devices]] kind = "county"`` entry whose key the platform reads the hall's journal with; beside it
  ``county-bridge.toml`` so the hall's own Mosquitto bridges its journal to the county's NATS;
* ``county.toml``: the registry of those halls, the broker, the platform's accounts (the demo password),
  and a ``[provincial]`` hand-off to files (``provincial/``).

Then it starts, in order: a PostgreSQL cluster in the data dir (Debian's binaries, 127.0.0.1 only), the
county's NATS, each hall's server (``hallq serve --demo``: its own Mosquitto, bridged), the platform
(``hallq platform serve``) and, with ``--residents``, simulated residents at each hall at a low rate. The
banner lists every hall's URL and the platform's with its accounts. Ctrl-C stops everything in reverse
order. Demo credentials only: this is never a deployment (docs/county.md, "Running it").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hallq.schema import Arr, Int, Num, Obj, Str, Texts, format_problems

log = logging.getLogger("hallq.county.demo")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEMO = ROOT / "config" / "county" / "demo.toml"
SITE = r"[a-z0-9][a-z0-9-]{0,39}"

DEMO_FILE = Obj({
    "county": Obj({"id": Str(pattern=SITE), "name": Texts(), "region_code": Str(pattern=r"[0-9]{6,12}")},
                  required=["id", "name"]),
    "ports": Obj({"platform": Int(min=1, max=65535), "broker": Int(min=1, max=65535),
                  "postgres": Int(min=1, max=65535)}, required=["platform", "broker", "postgres"]),
    "halls": Arr(Obj({
        "site": Str(pattern=SITE),
        "level": Str(enum=["city", "district", "town", "village"]),
        "parent": Str(pattern=SITE),
        "sample": Str(enum=["city-hall", "village-station"]),
        "name": Texts(),
        "address": Str(max_len=200),
        "coordinates": Arr(Num(min=-180, max=180), min_items=2, max_items=2),
        "port": Int(min=1, max=65535),
        "mqtt_port": Int(min=1, max=65535),
        "routes": Arr(Obj({"item": Str(max_len=64), "to": Str(pattern=SITE)}, required=["item"]), max_items=50,
                      description="items this hall takes for another hall (就近办; default: its parent)"),
    }, required=["site", "level", "sample", "name", "port", "mqtt_port"]), min_items=1, max_items=200),
}, required=["county", "ports", "halls"])


class DemoError(RuntimeError):
    pass


@dataclass
class DemoHall:
    site: str
    conf: Path       # its hall.toml
    data: Path       # its data dir
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def load_demo(path: Path, only: list[str] | None = None) -> dict:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DemoError(f"{path}: cannot read the county description ({e})") from None
    problems = DEMO_FILE.validate(raw)
    if problems:
        raise DemoError(f"{path}: {format_problems(problems)}")
    if only:
        unknown = set(only) - {h["site"] for h in raw["halls"]}
        if unknown:
            raise DemoError(f"--halls: {sorted(unknown)} not in {path}; its halls: "
                            f"{[h['site'] for h in raw['halls']]}")
        raw["halls"] = [h for h in raw["halls"] if h["site"] in only]
        kept = {h["site"] for h in raw["halls"]}
        for h in raw["halls"]:
            if h.get("parent") not in kept:
                h.pop("parent", None)
            h["routes"] = [r for r in h.get("routes", []) if (r.get("to") or h.get("parent")) in kept]
    shared = _shared_ports(raw)
    if shared:
        raise DemoError(f"{path}: two parts would listen on the same port: {'; '.join(shared)}. Give each its own")
    return raw


def _shared_ports(raw: dict) -> list[str]:
    """Each port that two parts of the description would listen on, with their names (the second part to
    start would fail, or, worse, a hall's server would answer the platform's requests)."""
    owners: dict[int, list[str]] = {}
    for key in ("platform", "broker", "postgres"):
        owners.setdefault(raw["ports"][key], []).append(f"[ports] {key}")
    for h in raw["halls"]:
        owners.setdefault(h["port"], []).append(f"hall {h['site']} port")
        owners.setdefault(h["mqtt_port"], []).append(f"hall {h['site']} mqtt_port")
    return [f"{port} ({' and '.join(names)})" for port, names in owners.items() if len(names) > 1]


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _names(name: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{k} = {_toml_str(v)}" for k, v in name.items()) + " }"


def _hall_toml(sample_text: str, h: dict, key: str, routing_key: str) -> str:
    """The sample's hall.toml made this hall's: its identity, its ports, the county's key and its routing key."""
    def one(pattern: str, line: str, text: str) -> str:
        new, n = re.subn(pattern, lambda m: line, text, count=1, flags=re.MULTILINE)
        if n != 1:
            raise DemoError(f"the sample hall.toml has no line matching {pattern!r}")
        return new

    text = one(r"^site = .*$", f"site = {_toml_str(h['site'])}", sample_text)
    text = one(r"^name = .*$", f"name = {_names(h['name'])}", text)
    text = one(r"^level = .*$", f"level = {_toml_str(h['level'])}", text)
    if h.get("address"):
        text = one(r"^address = .*$", f"address = {_toml_str(h['address'])}", text)
    text = one(r"^public_url = .*$", f"public_url = \"http://127.0.0.1:{h['port']}\"", text)
    text = one(r"^embedded_listen = .*$", f"embedded_listen = \"127.0.0.1:{h['mqtt_port']}\"", text)
    return text + (f'\n# the county platform reads this hall\'s journal with this key (hallq county start)\n'
                   f'[[devices]]\nid = "county"\nkind = "county"\n'
                   f'key_sha256 = "{hashlib.sha256(key.encode()).hexdigest()}"\n'
                   f'\n# the county platform files applications routed from village stations with this key (就近办)\n'
                   f'[[devices]]\nid = "county-routing"\nkind = "routing"\n'
                   f'key_sha256 = "{hashlib.sha256(routing_key.encode()).hexdigest()}"\n')


def _route(r: dict) -> str:
    return "{ item = " + _toml_str(r["item"]) + (f", to = {_toml_str(r['to'])}" if r.get("to") else "") + " }"


def _secret(path: Path) -> str:
    from hallq.mqtt_auth import write_private

    if not path.exists():
        write_private(path, secrets.token_urlsafe(24) + "\n")
    return path.read_text(encoding="utf-8").strip()


def write_county(demo: dict, data: Path) -> tuple[Path, list[DemoHall]]:
    """Write every hall's config folder and the county.toml into ``data``; return county.toml and the halls."""
    from hallq.demo import DEMO_PASSWORD_HASH

    data.mkdir(parents=True, exist_ok=True)
    keys = data / "keys"
    keys.mkdir(exist_ok=True)
    os.chmod(keys, 0o700)
    halls = []
    c = demo["county"]
    lines = [f"# written by hallq county start from its county description: regenerated at each start\n"
             f"[county]\nid = {_toml_str(c['id'])}\nname = {_names(c['name'])}\n",
             f"[broker]\nurl = \"mqtt://127.0.0.1:{demo['ports']['broker']}\"\nusername = \"platform\"\n"
             f"password = {_toml_str('file:' + str(data / 'broker-platform.secret'))}\n",
             "[ingest]\nreconcile_seconds = 10\n",
             f"[provincial]\nfiles_dir = {_toml_str(str(data / 'provincial'))}\n"
             + (f"region_code = {_toml_str(c['region_code'])}\n" if c.get("region_code") else "")]
    _secret(data / "broker-platform.secret")
    for h in demo["halls"]:
        key = _secret(keys / f"{h['site']}.key")
        routing_key = _secret(keys / f"{h['site']}.routing.key")
        folder = data / "halls" / h["site"]
        conf = folder / "conf"
        if conf.exists():
            shutil.rmtree(conf)
        sample = ROOT / "config" / h["sample"]
        shutil.copytree(sample, conf, ignore=shutil.ignore_patterns("hall.toml"))
        (conf / "hall.toml").write_text(_hall_toml((sample / "hall.toml").read_text(encoding="utf-8"), h, key,
                                                   routing_key), encoding="utf-8")
        halls.append(DemoHall(h["site"], conf / "hall.toml", folder / "data", h["port"]))
        businesses = re.findall(r'^code = "([a-z][a-z0-9_]{0,31})"', (conf / "hall.toml").read_text(encoding="utf-8"),
                                flags=re.MULTILINE)
        lines.append(f"[[halls]]\nsite = {_toml_str(h['site'])}\nlevel = {_toml_str(h['level'])}\n"
                     + (f"parent = {_toml_str(h['parent'])}\n" if h.get("parent") else "")
                     + f"name = {_names(h['name'])}\naddress = {_toml_str(h.get('address', ''))}\n"
                     + (f"coordinates = {json.dumps(h['coordinates'])}\n" if h.get("coordinates") else "")
                     + f"businesses = {json.dumps(businesses[:64])}\n"
                     f"journal_url = \"http://127.0.0.1:{h['port']}\"\n"
                     f"credential = {_toml_str('file:' + str(keys / (h['site'] + '.key')))}\n"
                     f"routing_credential = {_toml_str('file:' + str(keys / (h['site'] + '.routing.key')))}\n"
                     + (f"routes = [{', '.join(_route(r) for r in h['routes'])}]\n" if h.get("routes") else ""))
    lines.append(f"[[accounts]]\nusername = \"supervisor\"\nname = \"县政务服务监督\"\nrole = \"supervisor\"\n"
                 f"password_hash = \"{DEMO_PASSWORD_HASH}\"\n")
    for h in demo["halls"]:
        lines.append(f"[[accounts]]\nusername = \"{h['site'][:32]}-manager\"\nrole = \"hall_manager\"\n"
                     f"site = \"{h['site']}\"\npassword_hash = \"{DEMO_PASSWORD_HASH}\"\n")
    path = data / "county.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, halls


def _ensure_database(cluster, name: str) -> str:
    import psycopg

    with psycopg.connect(cluster.url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return cluster.url_for(name)


def _platform_up(url: str, part, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if part.proc is not None and part.proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if json.load(r)["ingest"]["broker_connected"]:
                    return True
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.2)
    return False


def banner(demo: dict, halls: list[DemoHall], platform: str, data: Path) -> str:
    from hallq.demo import DEMO_PASSWORD
    from hallq.i18n import pick

    by_site = {h["site"]: h for h in demo["halls"]}
    lines = [f"\nhallq county is running: {pick(demo['county']['name'])} ({len(halls)} halls), data in {data}",
             f"  {'platform':<24} {platform}  console {platform}/console/login",
             f"  {'':<24} accounts: supervisor (every hall), <site>-manager (their hall); password {DEMO_PASSWORD}",
             f"  {'broker':<24} NATS (MQTT) on 127.0.0.1:{demo['ports']['broker']}; "
             f"PostgreSQL on 127.0.0.1:{demo['ports']['postgres']}",
             f"  {'provincial files':<24} {data / 'provincial'}"]
    for h in halls:
        d = by_site[h.site]
        lines.append(f"  {h.site:<24} {h.url}  console {h.url}/console/login  ({d['level']}, "
                     f"{pick(d['name'])}; its broker on 127.0.0.1:{d['mqtt_port']})")
    lines.append(f"  Hall staff accounts are the samples' (config/city-hall, config/village-station), password "
                 f"{DEMO_PASSWORD}. Ctrl-C stops everything.\n")
    return "\n".join(lines)


def start_county(args: argparse.Namespace) -> int:
    """Start the county of the description on this machine (demo): PostgreSQL and NATS in the data dir, every
    hall with its own server and Mosquitto bridged to NATS, the platform; Ctrl-C stops them all."""
    from county.broker import BrokerSettings, CountyBroker, CountyBrokerError, bridge_files
    from county.config import CountyConfigError, load_county
    from county.pgcluster import ClusterError, LocalCluster
    from launcher.supervisor import Part, _cannot_listen, _wait_healthy, _watch, stop_parts

    try:
        demo = load_demo(Path(args.demo_config), [s.strip() for s in args.halls.split(",")] if args.halls else None)
    except DemoError as e:
        print(f"hallq county: {e}", file=sys.stderr)
        return 2
    data = Path(args.data_dir).resolve()
    ports = [("the platform", demo["ports"]["platform"]), ("the county broker", demo["ports"]["broker"]),
             ("PostgreSQL", demo["ports"]["postgres"])]
    ports += [(f"hall {h['site']}", h["port"]) for h in demo["halls"]]
    ports += [(f"hall {h['site']}'s broker", h["mqtt_port"]) for h in demo["halls"]]
    clashes = [f"{what} cannot listen on 127.0.0.1:{port} ({why}): change it in {args.demo_config}"
               for what, port in ports if (why := _cannot_listen("127.0.0.1", port))]
    if clashes:
        print("hallq county start:\n  " + "\n  ".join(clashes), file=sys.stderr)
        return 2
    os.environ.pop("HALLQ_MQTT_URL", None)  # each hall's own Mosquitto (its [mqtt]), never a shared one
    os.environ.pop("HALLQ_CONFIG", None)
    county_toml, halls = write_county(demo, data)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *a: stop.set())
    cluster = LocalCluster(data / "postgres", demo["ports"]["postgres"])
    broker = None
    parts: list = []
    try:
        cluster.start()
        cluster.wait_ready(30)
        database = _ensure_database(cluster, "county")
        cfg = load_county(county_toml, database_url=database)
        broker = CountyBroker(cfg, BrokerSettings(folder=data / "broker",
                                                  mqtt_listen=f"127.0.0.1:{demo['ports']['broker']}"))
        broker.start()
        platform_url = f"http://127.0.0.1:{demo['ports']['platform']}"
        for h in halls:  # each hall bridged to NATS, and asking the platform for its neighbours' waits (就近办)
            toml = bridge_files(cfg, data / "broker", h.site, f"127.0.0.1:{demo['ports']['broker']}", h.conf.parent,
                                platform_url=platform_url)
            # routed applications (就近办) forwarded and followed every 5 s: a demo shows them move at once
            toml.write_text(toml.read_text(encoding="utf-8") + "\n[routing]\nrefresh_seconds = 5\n", encoding="utf-8")
            h.data.mkdir(parents=True, exist_ok=True)
            part = Part(f"hall {h.site}", ["serve", "--config", str(h.conf), "--port", str(h.port), "--demo",
                                           "--data-dir", str(h.data)], needs_server=False)
            parts.append(part)
            part.launch()
        for h, part in zip(halls, parts):
            if not _wait_healthy(f"{h.url}/api/v1/health", args.timeout, part):
                log.error("hall %s did not become healthy at %s; its last words:\n%s", h.site, h.url,
                          part.last_words())
                return 1
            if stop.is_set():
                return 0
        platform = Part("platform", ["platform", "serve", "--config", str(county_toml), "--port",
                                     str(demo["ports"]["platform"]), "--database", database], needs_server=False)
        parts.append(platform)
        platform.launch()
        if not _platform_up(platform_url, platform, args.timeout):
            log.error("the county platform did not come up at %s; its last words:\n%s", platform_url,
                      platform.last_words())
            return 1
        if args.residents:
            from simulation.cli import hall_parts

            for h in halls:
                sim = argparse.Namespace(config=str(h.conf), host="127.0.0.1", port=h.port)
                for name, argv, _needs in hall_parts(sim):
                    argv = [("0.1" if a == "0.25" else a) for a in argv]  # a low rate: a county of quiet halls
                    p = Part(f"{name} {h.site}", argv, needs_server=False)
                    parts.append(p)
                    p.launch()
        print(banner(demo, halls, platform_url, data), file=sys.stderr, flush=True)
        return _watch(parts, stop)
    except (ClusterError, CountyBrokerError, CountyConfigError, OSError) as e:
        print(f"hallq county start: {e}", file=sys.stderr)
        return 1
    finally:
        stop_parts(parts)
        if broker is not None:
            broker.stop()
        cluster.stop("fast")


def _default_data_dir() -> str:
    if os.geteuid() == 0:
        return "/var/lib/hallq/county-demo"
    return str(Path.home() / ".local" / "share" / "hallq" / "county-demo")


def register(add) -> None:
    p = add("county", lambda args: (p.print_help(), 2)[1], "a whole county on one machine (demo): platform and halls",
            "hallq county start --residents")
    sub = p.add_subparsers(dest="county_command", metavar="ACTION")
    s = sub.add_parser("start", help="start the sample county: PostgreSQL, NATS, every hall, the platform",
                       description=start_county.__doc__ or __doc__)
    s.set_defaults(func=start_county)
    s.add_argument("--demo-config", default=str(DEFAULT_DEMO),
                   help=f"the county description (default {DEFAULT_DEMO.relative_to(ROOT)})")
    s.add_argument("--data-dir", default=_default_data_dir(),
                   help="where the halls' configs and databases, PostgreSQL and NATS live "
                        "(default /var/lib/hallq/county-demo as root, else ~/.local/share/hallq/county-demo)")
    s.add_argument("--halls", help="comma-separated sites to start (default: every hall of the description)")
    s.add_argument("--residents", action="store_true", help="simulated residents at each hall, at a low rate")
    s.add_argument("--timeout", type=float, default=90, help="seconds each hall and the platform get to come up")
