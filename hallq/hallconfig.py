"""Loading a hall's configuration (``config/<hall>/hall.toml`` + its services file).

The file describes one hall: its name and site id, hours and calendar, the
businesses (queues) with their number prefixes, the windows and the ranked
businesses each serves, the service items (事项) with their guides, the staff
and device accounts, and the deployment settings (MQTT broker).

Loading is strict. Every mistake is reported at once, each as
``<file>: <key>: <what is wrong>`` so an operator can fix a file without
guessing, e.g.::

    config/city-hall/hall.toml: windows[number=7].serves[1]: unknown business "socail" (known: commerce, construction, social)

See docs/configuration.md for every key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hallq.catalogue_config import (ITEM, Package, ServiceItem, catalogue_items,  # noqa: F401 (re-exported)
                                    catalogue_packages, did_you_mean, item_problems, merge_forms, merge_materials)
from hallq.config_schema import (CODE, FORM_FIELD, FORM_FIELD_TYPES, HALL_FILE, ITEM_CODE,  # noqa: F401 (re-exported)
                                 MATERIAL, SERVICES_FILE, SITE)
from hallq.hours import WEEKDAYS, OpeningHours, Period, check_no_overlap
from hallq.i18n import Texts, texts
from hallq.targets import Targets, from_section, settle
from hallq.workdays import WorkCalendar

class ConfigError(Exception):
    """One or more mistakes in a configuration file; ``str()`` lists them all."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems  # (file, key, message)
        super().__init__("\n".join(f"{f}: {k}: {m}" if k else f"{f}: {m}" for f, k, m in problems))


# -- what loading produces ----------------------------------------------------

@dataclass(frozen=True)
class Business:
    code: str
    prefix: str
    name: Texts
    daily_limit: int = 999
    ticket_requires: str = "none"
    service_minutes: int = 10
    targets: Targets = Targets()


@dataclass(frozen=True)
class Window:
    number: int
    name: Texts
    kind: str
    area: str
    serves: tuple[str, ...]  # ranked: [0] is the primary business


@dataclass(frozen=True)
class Staff:
    job_no: str
    name: str
    role: str
    password_hash: str
    temporary_password: bool = False  # the file's password is good for one sign-in: its owner then chooses one

# the kinds of device that stand at windows and may be bound to them ([[devices]] windows): the call keypads'
# gateway and a window's rating tablet; a key bound to a window may act there (queue_server/api admit)
WINDOW_DEVICE_KINDS = frozenset({"gateway", "tablet"})


@dataclass(frozen=True)
class Device:
    id: str
    kind: str
    key_sha256: str
    windows: tuple[int, ...] = ()
    place: str = ""


@dataclass(frozen=True)
class QueueRules:
    no_show_grace_minutes: int = 30
    max_requeues: int = 1
    targets: Targets = Targets()  # the hall's default; each business has its own
    dispatch: str = "promises"
    max_promises_in_a_row: int = 2
    green_channel_age: int = 60
    default_service_minutes: int = 10
    recent_calls: int = 8
    max_recalls: int = 3


@dataclass(frozen=True)
class RatingRules:
    rate_within_workdays: int = 5
    default_level: int = 0
    followup_workdays: int = 5  # 差评整改时限: 5, 10 or 15 working days depending on the province


@dataclass(frozen=True)
class TidalRule:
    """When a business is under pressure (either threshold passed) and when it has eased (both below)."""

    business: str  # a code, or "*"
    waiting_above: int | None = None
    wait_minutes_above: int | None = None
    release_waiting_below: int = 0
    release_wait_minutes_below: int = 0


@dataclass(frozen=True)
class TidalSettings:
    """潮汐窗口 (``[tidal]``): rules that alert the manager and may lend tidal windows."""

    auto_assign: bool = False
    check_seconds: int = 30
    hold_minutes: int = 15
    rules: tuple[TidalRule, ...] = ()


@dataclass(frozen=True)
class AppointmentRules:
    """预约办事 rules (``[appointments]``); docs/appointments.md explains each."""

    enabled: bool = True
    min_days_ahead: int = 1
    max_workdays_ahead: int = 5
    slot_minutes: int = 30
    capacity: int = 4
    business_capacity: dict[str, int] = field(default_factory=dict)
    item_capacity: dict[str, int] = field(default_factory=dict)
    one_per_person_per_day: bool = True
    cancel_before_minutes: int = 120
    checkin_before_minutes: int = 30
    checkin_after_minutes: int = 15
    no_show_limit: int = 3
    no_show_window_days: int = 90
    suspend_days: int = 30


@dataclass(frozen=True)
class SecuritySettings:
    """Sign-in throttling, passwords and sessions (``[security]``); docs/security.md explains each."""

    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    sign_in_free_failures: int = 5
    sign_in_free_failures_per_client: int = 20
    sign_in_first_delay_seconds: int = 60
    sign_in_max_delay_minutes: int = 30
    password_max_age_days: int = 90
    session_idle_minutes: int = 30


@dataclass(frozen=True)
class PrivacySettings:
    """Retention of personal data (``[privacy]``); docs/privacy.md explains it."""

    personal_data_days: int = 30
    followup_contact_days: int = 30  # a bad review's call-back phone, at the latest (closing the case erases it)


@dataclass(frozen=True)
class MqttSettings:
    url: str = ""  # empty: the hall's own Mosquitto, started by hallq serve (hallq/broker.py)
    embedded_listen: str = "127.0.0.1:11883"
    username: str = ""
    password_env: str = ""
    tls_ca: str = ""
    keepalive: int = 30
    tls: bool = False  # the hall's own broker speaks MQTT over TLS only (hallq tls makes its certificate)

    @property
    def embedded(self) -> bool:
        return not self.url

    @property
    def effective_url(self) -> str:
        """The URL clients connect to (the hall's own broker's when none is set)."""
        return self.url or f"{'mqtts' if self.tls else 'mqtt'}://{self.embedded_listen}"

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env else ""


@dataclass
class HallConfig:
    path: Path
    site: str
    name: Texts
    level: str
    address: str
    phone: str
    complaint_phone: str
    timezone: str
    public_url: str
    mqtt: MqttSettings
    calendar: WorkCalendar
    hours: OpeningHours
    queue: QueueRules
    ratings: RatingRules
    businesses: dict[str, Business]
    windows: dict[int, Window]
    items: dict[str, ServiceItem]
    staff: list[Staff] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    appointments: AppointmentRules = field(default_factory=AppointmentRules)
    tidal: TidalSettings = field(default_factory=TidalSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    traditional: str = "hk"  # which Traditional Chinese catalogue zh-Hant reads (hallq/i18n)
    packages: dict[str, Package] = field(default_factory=dict)

    def business_by_prefix(self, prefix: str) -> Business | None:
        return next((b for b in self.businesses.values() if b.prefix == prefix), None)


def load_hall(path: str | os.PathLike[str]) -> HallConfig:
    """Load and check ``hall.toml`` and the services files it names.

    Raises :class:`ConfigError` listing every problem found.
    """
    path = Path(path)
    label = _label(path)
    raw = read_toml(path, label)
    problems = [(label, k, m) for k, m in HALL_FILE.validate(raw)]
    if problems:
        raise ConfigError(problems)

    hall = raw["hall"]
    digest = hashlib.sha256(path.read_bytes())
    items_raw: list[tuple[str, int, dict[str, Any]]] = []
    packages_raw: list[tuple[str, dict[str, Any]]] = []
    for rel in hall["services"]:
        spath = (path.parent / rel).resolve()
        slabel = _label(spath)
        sraw = read_toml(spath, slabel)
        sproblems = [(slabel, k, m) for k, m in SERVICES_FILE.validate(sraw)]
        if sproblems:
            raise ConfigError(sproblems)
        digest.update(spath.read_bytes())
        items_raw.extend((slabel, i, it) for i, it in enumerate(sraw.get("items", [])))
        packages_raw.extend((slabel, p) for p in sraw.get("packages", []))

    q = raw.get("queue", {})
    hall_targets = from_section(q, Targets(), label, "queue", problems)
    rules = QueueRules(**{k: v for k, v in q.items() if k not in ("targets", "age_limit_minutes")},
                       targets=hall_targets)
    businesses: dict[str, Business] = {}
    prefixes: dict[str, str] = {}
    for b in raw["businesses"]:
        key = f"businesses[code={b['code']}]"
        if b["code"] in businesses:
            problems.append((label, key, f"duplicate business code \"{b['code']}\""))
            continue
        if b["prefix"] in prefixes:
            problems.append((label, f"{key}.prefix",
                             f"duplicate prefix \"{b['prefix']}\" (already used by business \"{prefixes[b['prefix']]}\")"))
        prefixes[b["prefix"]] = b["code"]
        businesses[b["code"]] = Business(
            code=b["code"], prefix=b["prefix"], name=b["name"],
            daily_limit=b.get("daily_limit", 999),
            ticket_requires=b.get("ticket_requires", "none"),
            service_minutes=b.get("service_minutes", rules.default_service_minutes),
            targets=from_section(b, hall_targets, label, key, problems),
        )
        if len(b["prefix"]) + len(str(businesses[b["code"]].daily_limit)) > 6:
            problems.append((label, f"{key}.daily_limit",
                             "number too long for a ticket: keep prefix + digits within 6 characters"))

    known = ", ".join(businesses)
    windows: dict[int, Window] = {}
    for w in raw["windows"]:
        key = f"windows[number={w['number']}]"
        if w["number"] in windows:
            problems.append((label, key, f"duplicate window number {w['number']}"))
            continue
        seen: set[str] = set()
        for j, code in enumerate(w["serves"]):
            if code not in businesses:
                hint = did_you_mean(code, businesses)
                problems.append((label, f"{key}.serves[{j}]", f"unknown business \"{code}\"{hint} (known: {known})"))
            elif code in seen:
                problems.append((label, f"{key}.serves[{j}]", f"business \"{code}\" listed twice"))
            seen.add(code)
        windows[w["number"]] = Window(
            number=w["number"],
            name=w.get("name") or texts("common.window_name", number=w["number"]),
            kind=w.get("kind", "acceptance"), area=w.get("area", ""), serves=tuple(w["serves"]),
        )

    sections: dict[str, dict[str, Any]] = {}
    for b in raw["businesses"]:
        sections.setdefault(b["code"], b)  # a duplicate code is reported above; the first one counts
    for code, b in businesses.items():
        targets, wrong = settle(b.targets, b.service_minutes, len(windows), sections[code], q)
        businesses[code] = dataclasses.replace(b, targets=targets)
        problems += [(label, f"businesses[code={code}].targets.{klass}", why) for klass, why in wrong]

    items = catalogue_items(items_raw, businesses, problems)
    packages = catalogue_packages(packages_raw, items, businesses, problems)
    calendar = _calendar(raw.get("calendar", {}), label, problems)
    hours = _hours(raw["hours"], calendar, label, problems)
    appointments = _appointments(raw.get("appointments", {}), businesses, items, label, problems)
    tidal = _tidal(raw.get("tidal", {}), businesses, label, problems)
    security = security_settings(raw.get("security", {}), label, problems)

    staff_seen: set[str] = set()
    staff = []
    for s in raw.get("staff", []):
        if s["job_no"] in staff_seen:
            problems.append((label, f"staff[job_no={s['job_no']}]", "duplicate job number"))
        staff_seen.add(s["job_no"])
        staff.append(Staff(**s))
    devices = []
    dev_seen: set[str] = set()
    for d in raw.get("devices", []):
        key = f"devices[id={d['id']}]"
        if d["id"] in dev_seen:
            problems.append((label, key, "duplicate device id"))
        dev_seen.add(d["id"])
        for n in d.get("windows", []):
            if n not in windows:
                problems.append((label, f"{key}.windows", f"unknown window {n}"))
        if d.get("windows") and d["kind"] not in WINDOW_DEVICE_KINDS:
            # bound to a window, a key may act there (call, complete, sign a clerk out): only what stands at one
            problems.append((label, f"{key}.windows", f"a {d['kind']} acts at no window: windows are for "
                                                      f"{' and '.join(sorted(WINDOW_DEVICE_KINDS))} only"))
        devices.append(Device(id=d["id"], kind=d["kind"], key_sha256=d["key_sha256"], windows=tuple(d.get("windows", [])),
                              place=d.get("place", "")))

    m = raw.get("mqtt", {})
    mqtt = MqttSettings(**m)
    env_url = os.environ.get("HALLQ_MQTT_URL")
    if env_url is not None:
        mqtt = MqttSettings(**{**m, "url": env_url})

    if problems:
        raise ConfigError(problems)
    return HallConfig(
        path=path, site=hall["site"], name=hall["name"], level=hall["level"],
        address=hall.get("address", ""), phone=hall.get("phone", ""),
        complaint_phone=hall.get("complaint_phone", ""), timezone=hall.get("timezone", "Asia/Shanghai"),
        public_url=hall.get("public_url", ""), traditional=hall.get("traditional", "hk"), mqtt=mqtt,
        calendar=calendar, hours=hours, queue=rules,
        ratings=RatingRules(**raw.get("ratings", {})),
        businesses=businesses, windows=windows, items=items, staff=staff, devices=devices,
        raw=raw, content_hash=digest.hexdigest(), appointments=appointments, tidal=tidal,
        security=security, privacy=PrivacySettings(**raw.get("privacy", {})), packages=packages,
    )


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_toml(path: Path, label: str | None = None) -> dict[str, Any]:
    """A TOML config file, or a ConfigError saying why not (missing, not TOML, not UTF-8), labelled ``label``."""
    label = label or str(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError([(label, "", "file not found")]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([(label, "", f"not valid TOML: {e}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([(label, "", "not UTF-8 text: save the file as UTF-8")]) from None


def _calendar(c: dict[str, Any], label: str, problems: list) -> WorkCalendar:
    def dates(key: str) -> list[date]:
        out = []
        for j, s in enumerate(c.get(key, [])):
            try:
                out.append(date.fromisoformat(s))
            except ValueError:
                problems.append((label, f"calendar.{key}[{j}]", f"\"{s}\" is not a date"))
        return out

    try:
        return WorkCalendar(c.get("mode", "china"), dates("holidays"), dates("workdays"))
    except ValueError as e:
        problems.append((label, "calendar", str(e)))
        return WorkCalendar(c.get("mode", "china"))


def security_settings(sec: dict[str, Any], label: str, problems: list) -> SecuritySettings:
    """``[security]`` as read (the hall's and the county platform's): its trusted proxies made networks."""
    proxies = []
    for j, text in enumerate(sec.get("trusted_proxies", [])):
        try:
            proxies.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            problems.append((label, f"security.trusted_proxies[{j}]",
                             f'"{text}" is neither an address (10.0.0.2) nor a network (10.0.0.0/24)'))
    return SecuritySettings(**{**sec, "trusted_proxies": tuple(proxies)})


def _tidal(t: dict[str, Any], businesses: dict, label: str, problems: list) -> TidalSettings:
    rules = []
    for j, r in enumerate(t.get("rules", [])):
        key = f"tidal.rules[{j}]"
        if r["business"] != "*" and r["business"] not in businesses:
            problems.append((label, f"{key}.business",
                             f"unknown business \"{r['business']}\"{did_you_mean(r['business'], businesses)}"))
        if "waiting_above" not in r and "wait_minutes_above" not in r:
            problems.append((label, key, "give waiting_above or wait_minutes_above (or both)"))
        if r.get("release_waiting_below", 0) > r.get("waiting_above", 10**9):
            problems.append((label, f"{key}.release_waiting_below", "must not exceed waiting_above (hysteresis)"))
        if r.get("release_wait_minutes_below", 0) > r.get("wait_minutes_above", 10**9):
            problems.append((label, f"{key}.release_wait_minutes_below", "must not exceed wait_minutes_above (hysteresis)"))
        rules.append(TidalRule(**r))
    return TidalSettings(**{**{k: v for k, v in t.items() if k != "rules"}, "rules": tuple(rules)})


def _appointments(a: dict[str, Any], businesses: dict, items: dict, label: str, problems: list) -> AppointmentRules:
    for code in a.get("business_capacity", {}):
        if code not in businesses:
            problems.append((label, f"appointments.business_capacity.{code}",
                             f"unknown business \"{code}\"{did_you_mean(code, businesses)}"))
    for code in a.get("item_capacity", {}):
        if code not in items:
            problems.append((label, f"appointments.item_capacity.{code}", f"unknown service item \"{code}\""))
    return AppointmentRules(**a)


def _hours(h: dict[str, Any], calendar: WorkCalendar, label: str, problems: list) -> OpeningHours:
    def periods(key: str) -> list[Period]:
        out = []
        for j, text in enumerate(h.get(key, [])):
            try:
                out.append(Period.parse(text))
            except ValueError as e:
                problems.append((label, f"hours.{key}[{j}]", str(e)))
        try:
            check_no_overlap(out)
        except ValueError as e:
            problems.append((label, f"hours.{key}", str(e)))
        return sorted(out, key=lambda p: p.start)

    workdays = periods("workdays")
    if not workdays:
        problems.append((label, "hours.workdays", "a hall needs at least one opening period"))
    by_weekday = {d: periods(d) for d in WEEKDAYS[:5] if d in h}
    weekend = {d: periods(d) for d in WEEKDAYS[5:] if d in h}
    return OpeningHours(
        calendar=calendar, workdays=workdays, by_weekday=by_weekday, weekend=weekend,
        issue_before_open_minutes=h.get("issue_before_open_minutes", 30),
        stop_issuing_before_close_minutes=h.get("stop_issuing_before_close_minutes", 0),
        issue_during_breaks=h.get("issue_during_breaks", True),
    )

