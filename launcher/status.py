"""``hallq status``: the health of every part of a hall, for an operator, and an exit code for a monitor.

It asks each part what it says about itself and adds nothing of its own:

* the server: ``GET /api/v1/health`` (up, version, database, its MQTT link, the hall's time);
* the broker: connected as ``status.operator``, the least-privilege identity that only reads
  (hallq/mqtt_auth.py), it replays the retained availability of every part
  (``status/<kind>/<id>``: online, offline = lost without a goodbye, stopped = stopped cleanly)
  and each device's health (``devices/<owner>/<device>/health``, e.g. a printer's ``paper_out``);
* the disk free on the data directory, and the age of the newest backup in ``--backups DIR``.

Exit 0 when all is well, 1 when something needs an operator, with one line per problem saying
what to do. A configured part never seen since the broker started is listed, not a problem
(a kiosk switched off for the day); a part gone offline is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MIN_FREE_MB = 1024


@dataclass
class Check:
    part: str
    ok: bool
    detail: str
    action: str = ""  # what the operator should do, when not ok


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, part: str, ok: bool, detail: str, action: str = "") -> None:
        self.checks.append(Check(part, ok, detail, action))


def register(add) -> None:
    p = add("status", cmd_status, "the health of every part of a hall (exit 1 when an operator must act)",
            "hallq status --config /etc/hallq/my-hall/hall.toml --url http://127.0.0.1:8080 "
            "--backups /var/backups/hallq")
    p.add_argument("--config", help="hall config file (default: $HALLQ_CONFIG or the sample city hall)")
    p.add_argument("--data-dir", help="override $HALLQ_DATA_DIR")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the server (default http://127.0.0.1:8080)")
    p.add_argument("--backups", metavar="DIR", help="where hallq backup writes: report the newest backup's age")
    p.add_argument("--backup-max-age", type=float, default=26, metavar="HOURS",
                   help="a newest backup older than this is a problem (default 26)")
    p.add_argument("--min-free-mb", type=int, default=MIN_FREE_MB,
                   help=f"less free disk on the data directory is a problem (default {MIN_FREE_MB})")
    p.add_argument("--timeout", type=float, default=5, help="seconds to wait for the server and the broker")
    p.add_argument("--json", action="store_true", help="one JSON object, for machines")


def cmd_status(args: argparse.Namespace) -> int:
    """Print the health of the server, the broker, every board, announcer, kiosk and gateway and their
    devices, the disk and the newest backup. Exit 0 when all is well, 1 when something needs an operator.
    """
    from hallq import settings
    from hallq.hallconfig import ConfigError, load_hall

    try:
        cfg = load_hall(settings.config_path(args.config))
    except ConfigError as e:
        raise SystemExit(f"hallq: the hall configuration has problems:\n{e}") from None
    data_dir = settings.data_dir(cfg.site, args.data_dir)
    report = Report()
    check_server(report, args.url, args.timeout, data_dir)
    check_hall_parts(report, cfg, data_dir, args.timeout)
    check_disk(report, data_dir, args.min_free_mb)
    if args.backups:
        check_backups(report, Path(args.backups), args.backup_max_age)
    if args.json:
        print(json.dumps({"ok": report.ok, "site": cfg.site, "checks": [asdict(c) for c in report.checks]},
                         ensure_ascii=False, indent=2))
    else:
        print_report(report, cfg.site)
    return 0 if report.ok else 1


def print_report(report: Report, site: str, out=None) -> None:
    out = out or sys.stdout
    print(f"hall {site}:", file=out)
    for c in report.checks:
        print(f"  {'ok     ' if c.ok else 'PROBLEM'}  {c.part:<28} {c.detail}", file=out)
    problems = [c for c in report.checks if not c.ok]
    if problems:
        print(f"\n{len(problems)} problem(s) need an operator:", file=out)
        for c in problems:
            print(f"- {c.part}: {c.detail}; {c.action}", file=out)
    else:
        print("\nall is well", file=out)


# -- the checks --------------------------------------------------------------------------------

def check_server(report: Report, url: str, timeout: float, data_dir: Path) -> None:
    from hallq.client import ApiError, HallClient
    from hallq.mqtt import hall_ca

    client = HallClient(url, retries=0, timeout=timeout, ca_file=hall_ca(data_dir) or None)
    try:
        h = client.health()
    except ApiError as e:
        report.add("server", False, f"{url} does not answer ({e.message('en')})",
                   "start it (systemctl start hallq-server, or hallq serve) and read its log "
                   "(journalctl -u hallq-server)")
        return
    finally:
        client.close()
    detail = f"up at {url}, hallq {h.get('version')}, database {h.get('database')}, hall time {h.get('now')}"
    if h.get("status") != "ok":
        report.add("server", False, f"{detail}, MQTT link {h.get('mqtt')}",
                   "the server cannot reach its broker: check the broker below and [mqtt] in hall.toml")
    else:
        report.add("server", True, detail)


def read_retained(cfg, data_dir: Path, timeout: float) -> tuple[dict[str, dict], str | None]:
    """Every retained status and device health on the hall's broker, as ``status.operator``.

    Returns {topic: payload} and None, or {} and why the broker could not be read. All retained
    messages of a subscription arrive before the answer to a later subscription: that answer is
    the event to wait for.
    """
    import paho.mqtt.client as paho

    from hallq.mqtt import BrokerAddress, hall_ca
    from hallq.mqtt_auth import STATUS_READER, client_credentials

    try:
        user, password = client_credentials(STATUS_READER.kind, STATUS_READER.id, data_dir, cfg.mqtt.username,
                                            cfg.mqtt.password, managed=cfg.mqtt.embedded)
    except PermissionError as e:
        return {}, str(e)
    addr = BrokerAddress.parse(cfg.mqtt.effective_url, user, password)
    base = f"hallq/{cfg.site}"
    got: dict[str, dict] = {}
    done = threading.Event()
    refused: list[str] = []
    state = {"mid": -1}
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"hallq-status-{time.monotonic_ns()}")
    if addr.username:
        c.username_pw_set(addr.username, addr.password)
    if addr.tls:
        c.tls_set(ca_certs=cfg.mqtt.tls_ca or hall_ca(data_dir) or None)

    def on_connect(client, userdata, flags, rc, props):
        if rc.is_failure:
            refused.append(str(rc))
            done.set()
            return
        client.subscribe([(f"{base}/status/#", 1), (f"{base}/devices/+/+/health", 1)])
        state["mid"] = client.subscribe(f"{base}/status/hallq-status/end", 1)[1]

    def on_subscribe(client, userdata, mid, rcs, props):
        if mid == state["mid"]:
            done.set()

    def on_message(client, userdata, msg):
        if msg.retain and msg.payload:
            got[msg.topic] = parse_payload(msg.payload)

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    try:
        c.connect(addr.host, addr.port, keepalive=30)
    except OSError as e:
        return {}, f"{addr} does not answer ({e.strerror or e})"
    c.loop_start()
    try:
        if not done.wait(timeout):
            return {}, f"{addr} did not answer in {timeout:.0f} s"
        if refused:
            return {}, f"{addr} refused {user or 'an anonymous client'} ({refused[0]})"
        return dict(got), None
    finally:
        c.disconnect()
        c.loop_stop()


def parse_payload(payload: bytes) -> dict:
    """A retained status or health payload; ``{"_unreadable": True}`` unless it is a JSON object."""
    try:
        parsed = json.loads(payload)
    except ValueError:
        return {"_unreadable": True}
    return parsed if isinstance(parsed, dict) else {"_unreadable": True}


def check_hall_parts(report: Report, cfg, data_dir: Path, timeout: float) -> None:
    from hallq.mqtt_auth import SERVER, STATUS_READER, hall_identities
    from hallq.mqttbase import without_password

    retained, why = read_retained(cfg, data_dir, timeout)
    if why is not None:
        own = cfg.mqtt.embedded
        report.add("broker", False, why,
                   "the hall's own broker runs inside hallq serve: start the server" if own else
                   "start the broker (systemctl start mosquitto) and check [mqtt] in hall.toml")
        return
    report.add("broker", True, f"up at {without_password(cfg.mqtt.effective_url)}")
    base = f"hallq/{cfg.site}"
    expected = [i for i in hall_identities(cfg) if i not in (SERVER, STATUS_READER)]
    seen = {t.removeprefix(f"{base}/status/").replace("/", "."): p for t, p in retained.items()
            if t.startswith(f"{base}/status/")}
    for name in sorted({i.username for i in expected} | set(seen) - {SERVER.username}):
        p = seen.get(name)
        if p is None:
            report.add(name, True, "not seen since the broker started (not started, or switched off)")
        elif p.get("state") == "online":
            report.add(name, True, f"online since {p.get('at', '?')}" + (f", {p['software']}" if p.get("software")
                                                                        else ""))
        elif p.get("state") == "stopped":
            report.add(name, True, f"stopped cleanly at {p.get('at', '?')}")
        else:
            report.add(name, False, f"{p.get('state', 'unreadable')} since {p.get('at', '?')} (lost without a goodbye)",
                       f"check that machine and its service (journalctl -u hallq-{name.split('.')[0]}*)")
    for topic, p in sorted(retained.items()):
        if not topic.startswith(f"{base}/devices/"):
            continue
        owner, device = topic.removeprefix(f"{base}/devices/").split("/")[:2]
        check_device(report, owner, device, p)


def check_device(report: Report, owner: str, device: str, p: dict) -> None:
    from device_drivers.printer import PROBLEMS

    raw = p.get("problems") or []
    problems = [str(x) for x in raw] if isinstance(raw, list) else [str(raw)]
    part = f"device {device}"
    what = f"({p.get('kind', '?')} of {owner}) "
    if p.get("ok") is True:
        report.add(part, True, what + ("ok" if not problems else "ok, warns " + ", ".join(problems)))
        return
    actions = [PROBLEMS[x][1] for x in problems if x in PROBLEMS]
    report.add(part, False, what + (", ".join(problems) or "not ok") + f" since {p.get('at', '?')}",
               "; ".join(actions) or f"look at {device} (the staff console's attention bar says more)")


def check_disk(report: Report, data_dir: Path, min_free_mb: int) -> None:
    where = data_dir if data_dir.exists() else next((p for p in data_dir.parents if p.exists()), Path("/"))
    usage = shutil.disk_usage(where)
    free_mb = usage.free // 2**20
    detail = f"{free_mb} MB free of {usage.total // 2**20} MB on {where}"
    if free_mb < min_free_mb:
        report.add("disk", False, detail, "free space there: old backups, logs (journalctl --vacuum-size)")
    else:
        report.add("disk", True, detail)


def check_backups(report: Report, folder: Path, max_age_hours: float) -> None:
    files = [p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")] \
        if folder.is_dir() else []
    if not files:
        report.add("backup", False, f"no backup in {folder}",
                   "take one (hallq backup --to ...) and schedule it nightly (docs/deployment.md, Backups)")
        return
    newest = max(files, key=lambda p: p.stat().st_mtime)
    hours = (time.time() - newest.stat().st_mtime) / 3600
    detail = f"newest {newest.name}, {hours:.1f} h old"
    if hours > max_age_hours:
        report.add("backup", False, detail, "check the nightly hallq backup (its cron line or timer, and its log)")
    else:
        report.add("backup", True, detail)
