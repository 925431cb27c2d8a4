"""The simulation file (``config/<hall>/simulation.toml``): a hall's typical day and the scenarios to try.

Loading is strict, like :mod:`hallq.hallconfig`: every mistake is reported at
once as ``<file>: <key>: <what is wrong>``, and every business, window and
account it names must exist in the hall configuration it points to, e.g.::

    config/city-hall/simulation.toml: scenarios[name=tidal].changes[0].window: no window 21 in the hall (windows 1-20)

docs/simulation.md explains every key.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hallq.hallconfig import ConfigError, HallConfig, _label, load_hall, read_toml
from hallq.schema import Arr, Bool, Int, Map, Num, Obj, Str

HHMM = r"([01]\d|2[0-3]):[0-5]\d"
NAME = r"[a-z0-9][a-z0-9_-]{0,39}"
CODE = r"[a-z][a-z0-9_]{0,31}"

_DIST = Obj({"mean": Num(min=0.01, max=480, description="minutes"),
             "spread": Num(min=0, max=3, description="coefficient of variation (standard deviation / mean)")},
            required=["mean"])
_SHARE = Num(min=0, max=1)

FILE = Obj({
    "simulation": Obj({
        "hall": Str(max_len=300, description="the hall config, relative to this file"),
        "date": Str(pattern=r"\d{4}-\d{2}-\d{2}", description="the simulated day (a working day of the hall)"),
        "seed": Int(min=0, max=2**63 - 1),
        "kiosk_key": Str(min_len=1, max_len=200),
        "password": Str(min_len=1, max_len=200, description="the staff accounts' password (demo: hallq-demo)"),
        "manager": Str(pattern=r"[A-Za-z0-9]{2,16}"),
        "staff": Map(Str(pattern=r"[A-Za-z0-9]{2,16}"), key_pattern=r"\d{1,3}", max_keys=300,
                     description="window number → job number of the account signing in there"),
    }, required=["hall", "date"]),
    "day": Obj({
        "open_windows": Arr(Int(min=1, max=999), min_items=1, max_items=300),
        "overtime_minutes": Int(min=0, max=240),
        "walk_seconds": Obj({"min": Int(min=0, max=600), "max": Int(min=0, max=600)}, required=["min", "max"]),
        "recall_after_seconds": Int(min=5, max=600),
        "recalls": Int(min=0, max=20),
        "pauses_per_window": Num(min=0, max=20, description="expected staff pauses per window per day"),
        "pause_minutes": _DIST,
        "transfer_check_minutes": _DIST,
    }),
    "arrivals": Obj({
        "profile": Map(Num(min=0, max=10000), key_pattern=HHMM, max_keys=200,
                       description="relative arrival rate from each time to the next; the last must be 0"),
    }, required=["profile"]),
    "businesses": Map(Obj({
        "walk_ins": Int(min=0, max=100000, description="expected residents taking a number over the day"),
        "appointments": Int(min=0, max=10000, description="bookings made the day before"),
        "appointment_no_show": _SHARE,
        "service_minutes": _DIST,
        "green_share": _SHARE,
        "no_show": _SHARE,
        "requeue": _SHARE,
        "transfer": Map(_SHARE, key_pattern=CODE, max_keys=26),
    }, required=["walk_ins", "service_minutes"]), key_pattern=CODE, max_keys=26),
    "scenarios": Arr(Obj({
        "name": Str(pattern=NAME),
        "title": Str(min_len=1, max_len=120),
        "open_windows": Arr(Int(min=1, max=999), min_items=1, max_items=300),
        "tidal_auto": Bool(description="let the server's tidal rules lend tidal windows (not reproducible)"),
        "changes": Arr(Obj({
            "at": Str(pattern=HHMM),
            "window": Int(min=1, max=999),
            "serves": Arr(Str(pattern=CODE), min_items=1, max_items=26),
            "staffed": Bool(description="true: someone signs in there; false: they sign out after the current one"),
        }, required=["at", "window"]), max_items=500),
    }, required=["name"]), max_items=20),
}, required=["simulation", "arrivals", "businesses"])


@dataclass(frozen=True)
class Dist:
    """A service or pause time: lognormal with this mean (minutes) and coefficient of variation."""

    mean: float
    spread: float = 0.5


@dataclass(frozen=True)
class BusinessLoad:
    code: str
    walk_ins: int
    service: Dist
    appointments: int = 0
    appointment_no_show: float = 0.1
    green_share: float = 0.0
    no_show: float = 0.0
    requeue: float = 0.5
    transfer: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """At ``at`` (HH:MM), window ``window`` gets ``serves`` and/or is staffed or left."""

    at: str
    window: int
    serves: tuple[str, ...] | None = None
    staffed: bool | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    open_windows: tuple[int, ...]
    changes: tuple[Change, ...] = ()
    tidal_auto: bool = False


@dataclass(frozen=True)
class DaySettings:
    open_windows: tuple[int, ...]
    overtime_minutes: int = 0
    walk_seconds: tuple[int, int] = (20, 90)
    recall_after_seconds: int = 60
    recalls: int = 2
    pauses_per_window: float = 1.0
    pause_minutes: Dist = Dist(8, 0.5)
    transfer_check_minutes: Dist = Dist(3, 0.5)


@dataclass
class Simulation:
    """A checked simulation file with its hall."""

    path: Path
    hall: HallConfig
    day: date
    seed: int
    kiosk_key: str
    password: str
    manager: str
    staff: dict[int, str]  # window → job number
    settings: DaySettings
    profile: list[tuple[str, float]]  # (HH:MM, relative rate), sorted, last rate 0
    businesses: dict[str, BusinessLoad]
    scenarios: list[Scenario]

    def scenario(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(f"no scenario {name!r} (known: {', '.join(s.name for s in self.scenarios)})")


def _dist(raw: dict[str, Any] | None, default: Dist) -> Dist:
    if raw is None:
        return default
    return Dist(float(raw["mean"]), float(raw.get("spread", default.spread)))


def load_simulation(path: str | Path, hall_override: str | Path | None = None) -> Simulation:
    """Load and check a simulation file and the hall it names; raise ConfigError listing every problem."""
    path = Path(path)
    label = _label(path)
    raw = read_toml(path, label)
    problems = [(label, k, m) for k, m in FILE.validate(raw)]
    if problems:
        raise ConfigError(problems)
    s = raw["simulation"]
    hall = load_hall(hall_override or (path.parent / s["hall"]))
    p: list[tuple[str, str]] = []

    try:
        day = date.fromisoformat(s["date"])
    except ValueError:
        p.append(("simulation.date", f"{s['date']!r} is not a date"))
        day = date(2026, 11, 23)
    if not hall.hours.periods_on(day):
        p.append(("simulation.date", f"the hall is closed on {day} (not a working day, or no hours)"))

    windows = hall.windows
    span = f"windows {min(windows)}-{max(windows)}" if windows else "no windows"

    def window_ok(key: str, n: int) -> None:
        if n not in windows:
            p.append((key, f"no window {n} in the hall ({span})"))

    def business_ok(key: str, code: str) -> None:
        if code not in hall.businesses:
            p.append((key, f"unknown business \"{code}\" (known: {', '.join(hall.businesses)})"))

    accounts = {st.job_no: st for st in hall.staff}
    staff_map: dict[int, str] = {}
    ordered = [st.job_no for st in hall.staff if st.role == "staff"] + \
              [st.job_no for st in hall.staff if st.role != "staff"]
    for n, job in zip(sorted(windows), ordered):
        staff_map[n] = job
    for key, job in s.get("staff", {}).items():
        window_ok(f"simulation.staff.{key}", int(key))
        if job not in accounts:
            p.append((f"simulation.staff.{key}", f"no staff account {job} in the hall"))
        staff_map[int(key)] = job
    if len(set(staff_map.values())) != len(staff_map):
        p.append(("simulation.staff", "one account is given two windows"))
    managers = [st.job_no for st in hall.staff if st.role in ("manager", "admin")]
    manager = s.get("manager") or (managers[0] if managers else "")
    if manager not in managers:
        p.append(("simulation.manager", f"no manager account {manager!r} in the hall (managers: {', '.join(managers)})"))

    d = raw.get("day", {})
    open_windows = tuple(d.get("open_windows", sorted(windows)))
    for i, n in enumerate(open_windows):
        window_ok(f"day.open_windows[{i}]", n)
        if n not in staff_map:
            p.append((f"day.open_windows[{i}]", f"no staff account for window {n}: add it under simulation.staff"))
    walk = d.get("walk_seconds", {"min": 20, "max": 90})
    if walk["min"] > walk["max"]:
        p.append(("day.walk_seconds", "min is above max"))
    recalls = d.get("recalls", 2)
    if recalls > hall.queue.max_recalls:
        p.append(("day.recalls", f"the hall allows at most {hall.queue.max_recalls} recalls ([queue] max_recalls)"))
    settings = DaySettings(
        open_windows=open_windows, overtime_minutes=d.get("overtime_minutes", 0),
        walk_seconds=(walk["min"], walk["max"]), recall_after_seconds=d.get("recall_after_seconds", 60),
        recalls=recalls, pauses_per_window=float(d.get("pauses_per_window", 1.0)),
        pause_minutes=_dist(d.get("pause_minutes"), Dist(8, 0.5)),
        transfer_check_minutes=_dist(d.get("transfer_check_minutes"), Dist(3, 0.5)))

    profile = sorted((k, float(v)) for k, v in raw["arrivals"]["profile"].items())
    if len(profile) < 2:
        p.append(("arrivals.profile", "needs at least two times: a start and an end with rate 0"))
    elif profile[-1][1] != 0:
        p.append((f"arrivals.profile.{profile[-1][0]}", "the last time ends the arrivals: its rate must be 0"))
    elif not any(v > 0 for _, v in profile):
        p.append(("arrivals.profile", "every rate is 0: nobody would come"))

    businesses: dict[str, BusinessLoad] = {}
    for code, b in raw["businesses"].items():
        key = f"businesses.{code}"
        business_ok(key, code)
        for target in b.get("transfer", {}):
            business_ok(f"{key}.transfer.{target}", target)
            if target == code:
                p.append((f"{key}.transfer.{target}", "a business cannot transfer to itself"))
        if sum(b.get("transfer", {}).values()) > 1:
            p.append((f"{key}.transfer", "the shares add up to more than 1"))
        if b.get("appointments", 0) and code in hall.businesses and not any(
                it.business == code and it.guide.get("appointment") for it in hall.items.values()):
            p.append((f"{key}.appointments", f"no service item of \"{code}\" can be booked (appointment = true)"))
        businesses[code] = BusinessLoad(
            code=code, walk_ins=b["walk_ins"], service=_dist(b["service_minutes"], Dist(10, 0.5)),
            appointments=b.get("appointments", 0), appointment_no_show=float(b.get("appointment_no_show", 0.1)),
            green_share=float(b.get("green_share", 0.0)), no_show=float(b.get("no_show", 0.0)),
            requeue=float(b.get("requeue", 0.5)), transfer={k: float(v) for k, v in b.get("transfer", {}).items()})

    scenarios: list[Scenario] = []
    for sc in raw.get("scenarios") or [{"name": "baseline"}]:
        key = f"scenarios[name={sc['name']}]"
        if any(x.name == sc["name"] for x in scenarios):
            p.append((key, f"duplicate scenario name \"{sc['name']}\""))
        own = tuple(sc.get("open_windows", open_windows))
        for j, n in enumerate(sc.get("open_windows", [])):
            window_ok(f"{key}.open_windows[{j}]", n)
            if n not in staff_map:
                p.append((f"{key}.open_windows[{j}]", f"no staff account for window {n}: add it under simulation.staff"))
        changes = []
        for j, c in enumerate(sc.get("changes", [])):
            ckey = f"{key}.changes[{j}]"
            window_ok(f"{ckey}.window", c["window"])
            if "serves" not in c and "staffed" not in c:
                p.append((ckey, "say what changes: serves, staffed or both"))
            for k, code in enumerate(c.get("serves", [])):
                business_ok(f"{ckey}.serves[{k}]", code)
            if len(set(c.get("serves", []))) != len(c.get("serves", [])):
                p.append((f"{ckey}.serves", "a business is listed twice"))
            if c.get("staffed") and c["window"] not in staff_map:
                p.append((f"{ckey}.staffed", f"no staff account for window {c['window']}: add it under simulation.staff"))
            changes.append(Change(c["at"], c["window"], tuple(c["serves"]) if "serves" in c else None,
                                  c.get("staffed")))
        changes.sort(key=lambda c: c.at)
        scenarios.append(Scenario(sc["name"], sc.get("title", sc["name"]), own, tuple(changes),
                                  sc.get("tidal_auto", False)))

    if p:
        raise ConfigError([(label, k, m) for k, m in p])
    return Simulation(path=path, hall=hall, day=day, seed=s.get("seed", 1), kiosk_key=s.get("kiosk_key", "demo-kiosk-1"),
                      password=s.get("password", "hallq-demo"), manager=manager, staff=staff_map, settings=settings,
                      profile=profile, businesses=businesses, scenarios=scenarios)


def hhmm_ms(text: str) -> int:
    """``"09:30"`` → milliseconds after midnight."""
    if not re.fullmatch(HHMM, text):
        raise ValueError(f"{text!r} is not a time like 09:30")
    h, m = text.split(":")
    return (int(h) * 60 + int(m)) * 60_000


def with_policy(sim: Simulation, policy: str, root: Path) -> Simulation:
    """``sim`` with its hall's ``[queue] dispatch`` set to ``policy``: a copy of the hall's folder under ``root``.

    The copy is what a server started for the scenario reads, so the rule under
    test is the server's own, set the way a hall sets it.
    """
    if sim.hall.queue.dispatch == policy:
        return sim
    folder = root / f"hall-{policy}"
    shutil.copytree(sim.hall.path.parent, folder, dirs_exist_ok=True)
    path = folder / sim.hall.path.name
    text = path.read_text(encoding="utf-8")
    line = f'dispatch = "{policy}"'
    if re.search(r"(?m)^dispatch\s*=.*$", text):
        text = re.sub(r"(?m)^dispatch\s*=.*$", line, text, count=1)
    elif re.search(r"(?m)^\[queue\]\s*$", text):
        text = re.sub(r"(?m)^\[queue\]\s*$", f"[queue]\n{line}", text, count=1)
    else:
        text = f"{text.rstrip()}\n\n[queue]\n{line}\n"
    path.write_text(text, encoding="utf-8")
    hall = load_hall(path)
    return dataclasses.replace(sim, hall=hall)
