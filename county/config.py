"""The county config (``county.toml``): the platform's database and broker, the registry of halls, accounts.

Validated as a whole on loading (every problem at once, each with its key), like a hall's config.
Secrets never go in the file: the database URL may name an environment variable, the broker's
password and each hall's key are *references* (``env:NAME`` or ``file:/path``), resolved when used.
A sample is in config/county/county.toml; docs/county.md explains every section.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hallq.config_schema import TRUSTED_PROXIES
from hallq.hallconfig import SecuritySettings, security_settings
from hallq.schema import Arr, Bool, Int, Map, Num, Obj, Str, Texts, format_problems

SITE = r"[a-z0-9][a-z0-9-]{0,39}"
LEVELS = ("city", "district", "town", "village")
CREDENTIAL = r"(env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:\S{1,500})"

COUNTY_FILE = Obj({
    "county": Obj({
        "id": Str(pattern=SITE, description="the county's short name, e.g. liupanshui-zhongshan"),
        "name": Texts(),
        "timezone": Str(enum=["Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau"]),
    }, required=["id", "name"]),
    "database": Obj({
        "url": Str(max_len=500, pattern=r"postgres(ql)?://\S+"),
        "url_env": Str(pattern=r"[A-Za-z_][A-Za-z0-9_]{0,127}"),
    }),
    "broker": Obj({
        "url": Str(max_len=300, pattern=r"mqtts?://\S+", description="the county broker's MQTT listener"),
        "username": Str(max_len=64),
        "password": Str(pattern=CREDENTIAL, max_len=600, description="env:NAME or file:/path"),
        "tls_ca": Str(max_len=500),
    }, required=["url"]),
    "ingest": Obj({
        "max_payload_bytes": Int(min=1024, max=256 * 1024),
        "max_clock_ahead_seconds": Int(min=5, max=86400),
        "max_age_days": Int(min=1, max=3650),
        "reconcile_seconds": Num(min=0.2, max=3600),
        "catchup_page": Int(min=1, max=1000),
        "catchup_threads": Int(min=1, max=64, description="halls caught up at once"),
        "catchup_connect_timeout": Num(min=0.5, max=60, description="seconds to reach a hall before trying later"),
        "catchup_retry_max": Num(min=1, max=3600, description="the longest wait between tries at a hall away"),
    }),
    "console": Obj({
        "wait_alert_minutes": Int(min=1, max=600, description="alert when a hall's longest wait passes it"),
        "satisfaction_alert": Num(min=0, max=1, description="alert when today's share of non-bad ratings falls below"),
        "satisfaction_min_ratings": Int(min=1, max=10000),
        "silent_minutes": Int(min=1, max=1440, description="alert when a hall is heard from no more for this long"),
        "on_time_minutes": Int(min=1, max=600, description="a wait up to this long is on time"),
    }),
    "security": Obj({
        "trusted_proxies": TRUSTED_PROXIES,  # the reverse proxy in front of the platform (docs/county.md)
        "sign_in_free_failures": Int(min=1, max=100, description="wrong passwords per client and account before delays"),
        "sign_in_free_failures_per_client": Int(min=1, max=1000, description="wrong passwords per client, any account"),
        "sign_in_first_delay_seconds": Int(min=1, max=3600),
        "sign_in_max_delay_minutes": Int(min=1, max=1440),
        "session_idle_minutes": Int(min=1, max=720, description="a console session ends after this long unused"),
        "password_max_age_days": Int(min=0, max=3650, description="then a password must be changed; 0: never"),
    }),
    "provincial": Obj({
        "files_dir": Str(max_len=500, description="folder of the daily files ('' for none)"),
        "formats": Arr(Str(enum=["jsonl", "csv"]), max_items=2),
        "endpoint": Str(max_len=500, pattern=r"https?://\S+", description="the provincial platform's URL"),
        "token": Str(pattern=CREDENTIAL, max_len=600, description="bearer token: env:NAME or file:/path"),
        "region_code": Str(pattern=r"[0-9]{6,12}", description="行政区划代码 of the county"),
        "timeout_seconds": Num(min=0.5, max=300),
        "batch_size": Int(min=1, max=10000),
        "interval_seconds": Num(min=0.1, max=3600),
        "retry_base_seconds": Num(min=0.05, max=3600),
        "retry_max_seconds": Num(min=0.1, max=86400),
        "alert_after": Int(min=1, max=1000),
        "channel_codes": Map(Str(max_len=32), key_pattern=r"kiosk|pad|mobile|other"),
        "departments": Map(Str(max_len=100), key_pattern=r"[a-z][a-z0-9_]{0,31}"),
    }),
    "halls": Arr(Obj({
        "site": Str(pattern=SITE),
        "level": Str(enum=list(LEVELS)),
        "parent": Str(pattern=SITE),
        "name": Texts(),
        "address": Str(max_len=200),
        "coordinates": Arr(Num(min=-180, max=180), min_items=2, max_items=2, description="[latitude, longitude]"),
        "businesses": Arr(Str(pattern=r"[a-z][a-z0-9_]{0,31}"), max_items=64),
        "journal_url": Str(max_len=300, pattern=r"https?://\S+"),
        "credential": Str(pattern=CREDENTIAL, max_len=600),
        "cafile": Str(max_len=500),
        "active": Bool(),
        "routing_credential": Str(pattern=CREDENTIAL, max_len=600,
                                  description="the hall's key for routed applications ([[devices]] kind = \"routing\")"),
        "routes": Arr(Obj({
            "item": Str(pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", description="the handling hall's item code"),
            "to": Str(pattern=SITE, description="the handling hall (default: this hall's parent)"),
        }, required=["item"]), max_items=200, description="items this hall accepts and routes to another hall"),
    }, required=["site", "level", "name", "journal_url", "credential"]), max_items=5000),
    "accounts": Arr(Obj({
        "username": Str(pattern=r"[a-z0-9][a-z0-9._-]{0,39}"),
        "name": Str(max_len=40),
        "role": Str(enum=["supervisor", "hall_manager"]),
        "site": Str(pattern=SITE),
        "password_hash": Str(pattern=r"\$argon2id?\$\S+", max_len=300),
        "temporary_password": Bool(description="the file's password is good for one sign-in, then its owner chooses one"),
    }, required=["username", "role", "password_hash"]), max_items=1000),
}, required=["county", "broker", "halls"])


class CountyConfigError(ValueError):
    """Mistakes in county.toml; ``str()`` lists them all."""


@dataclass(frozen=True)
class Ingest:
    max_payload_bytes: int = 64 * 1024
    max_clock_ahead_seconds: int = 300
    max_age_days: int = 400
    reconcile_seconds: float = 60.0
    catchup_page: int = 500
    catchup_threads: int = 16
    catchup_connect_timeout: float = 3.0
    catchup_retry_max: float = 5.0


@dataclass(frozen=True)
class Console:
    """The supervision console's thresholds (docs/county.md, "The supervision console")."""
    wait_alert_minutes: int = 30
    satisfaction_alert: float = 0.9
    satisfaction_min_ratings: int = 5
    silent_minutes: int = 15
    on_time_minutes: int = 20


@dataclass(frozen=True)
class Provincial:
    """The provincial hand-off (county/provincial.py, docs/provincial.md)."""
    files_dir: str = ""
    formats: tuple[str, ...] = ("jsonl", "csv")
    endpoint: str = ""
    token: str = ""               # a reference: env:NAME or file:/path
    region_code: str = ""
    timeout_seconds: float = 10.0
    batch_size: int = 500
    interval_seconds: float = 5.0
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    alert_after: int = 5
    channel_codes: dict[str, str] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hall:
    site: str
    level: str
    name: dict[str, str]
    journal_url: str
    credential: str
    parent: str | None = None
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    businesses: tuple[str, ...] = ()
    cafile: str = ""
    active: bool = True
    routing_credential: str = ""  # a reference: the hall's [[devices]] kind = "routing" key (routed applications)
    routes: dict[str, str] = field(default_factory=dict)  # item code -> the site of the hall that handles it


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    password_hash: str
    site: str | None = None
    name: str = ""
    temporary_password: bool = False  # the file's password must be changed at its first sign-in


@dataclass(frozen=True)
class Broker:
    url: str
    username: str = ""
    password: str = ""  # a reference: env:NAME or file:/path
    tls_ca: str = ""


@dataclass
class CountyConfig:
    path: Path
    id: str
    name: dict[str, str]
    timezone: str
    database_url: str
    broker: Broker
    ingest: Ingest
    halls: dict[str, Hall] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)
    provincial: Provincial | None = None
    console: Console = field(default_factory=Console)
    security: SecuritySettings = field(default_factory=SecuritySettings)  # its sign_in_* rules (hallq/throttle.py)


def resolve_secret(reference: str, what: str) -> str:
    """The secret a reference names (``env:NAME``, ``file:/path``); raise saying what is missing and how to fix."""
    kind, _, where = reference.partition(":")
    if kind == "env":
        value = os.environ.get(where, "")
        if not value:
            raise CountyConfigError(f"{what}: the environment variable {where} is not set (it holds the secret)")
        return value.strip()
    if kind == "file":
        try:
            return Path(where).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise CountyConfigError(f"{what}: cannot read {where} ({e.strerror})") from None
        except UnicodeDecodeError:
            raise CountyConfigError(f"{what}: {where} is not UTF-8 text; save the secret as UTF-8") from None
    raise CountyConfigError(f"{what}: {reference!r} must be env:NAME or file:/path; the secret itself never goes "
                            "in county.toml")


def route_problems(halls: dict[str, Hall], raw_halls: list[dict]) -> list[tuple[str, str]]:
    """Every mistake in the halls' ``routes`` (就近办 across halls, county/routing.py): a target that is not a hall
    of the county, a hall routing to itself, no parent to default to, a target without a routing key."""
    problems = []
    for h in raw_halls:
        seen: set[str] = set()
        for i, r in enumerate(h.get("routes", [])):
            key = f"halls[site={h['site']}].routes[{i}]"
            if r["item"] in seen:
                problems.append((f"{key}.item", f"{r['item']!r} is routed twice"))
            seen.add(r["item"])
            to = r.get("to") or h.get("parent")
            if not to:
                problems.append((f"{key}.to", "this hall has no parent to route to: name the handling hall"))
            elif to not in halls:
                problems.append((f"{key}.to", f"unknown hall {to!r}: the handling hall must be a hall of this county"))
            elif to == h["site"]:
                problems.append((f"{key}.to", "a hall does not route to itself: handle the item here instead"))
            elif not halls[to].routing_credential:
                problems.append((f"{key}.to", f"hall {to!r} has no routing_credential: give it (env:NAME or "
                                              "file:/path, the key of its [[devices]] kind = \"routing\")"))
    return problems


def load_county(path: str | Path, database_url: str | None = None, need_database: bool = True) -> CountyConfig:
    """Read and check ``county.toml``; raise :class:`CountyConfigError` listing every problem.

    ``database_url`` overrides ``[database]`` (``hallq platform --database``, the tests)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CountyConfigError(f"{path}: cannot read the county config ({e.strerror})") from None
    except UnicodeDecodeError:
        raise CountyConfigError(f"{path}: not UTF-8 text; save county.toml as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise CountyConfigError(f"{path}: not valid TOML ({e})") from None
    problems = [(key, msg) for key, msg in COUNTY_FILE.validate(raw)]
    if problems:
        raise CountyConfigError(f"{path}: {format_problems(problems)}")
    halls: dict[str, Hall] = {}
    for h in raw["halls"]:
        if h["site"] in halls:
            problems.append((f"halls[site={h['site']}]", "duplicate site"))
        lat, lon = (h.get("coordinates") or [None, None])
        halls[h["site"]] = Hall(site=h["site"], level=h["level"], name=dict(h["name"]), journal_url=h["journal_url"],
                                credential=h["credential"], parent=h.get("parent") or None,
                                address=h.get("address", ""), latitude=lat, longitude=lon,
                                businesses=tuple(h.get("businesses", [])), cafile=h.get("cafile", ""),
                                active=h.get("active", True), routing_credential=h.get("routing_credential", ""),
                                routes={r["item"]: r.get("to") or h.get("parent") or "" for r in h.get("routes", [])})
    rank = {level: i for i, level in enumerate(LEVELS)}
    for h in halls.values():
        if h.parent is None:
            continue
        parent = halls.get(h.parent)
        if parent is None:
            problems.append((f"halls[site={h.site}].parent", f"unknown hall {h.parent!r}"))
        elif rank[parent.level] >= rank[h.level]:
            problems.append((f"halls[site={h.site}].parent",
                             f"a {h.level} hall's parent must be a level above it, not a {parent.level}"))
    problems += route_problems(halls, raw["halls"])
    accounts = []
    seen: set[str] = set()
    for a in raw.get("accounts", []):
        key = f"accounts[username={a['username']}]"
        if a["username"] in seen:
            problems.append((key, "duplicate username"))
        seen.add(a["username"])
        if a["role"] == "hall_manager" and a.get("site") not in halls:
            problems.append((f"{key}.site", "a hall manager needs the site of a hall of this county"))
        if a["role"] == "supervisor" and a.get("site"):
            problems.append((f"{key}.site", "a county supervisor sees every hall: give no site"))
        accounts.append(Account(username=a["username"], role=a["role"], password_hash=a["password_hash"],
                                site=a.get("site") if a["role"] == "hall_manager" else None, name=a.get("name", ""),
                                temporary_password=a.get("temporary_password", False)))
    db = raw.get("database", {})
    url = database_url or db.get("url") or (os.environ.get(db["url_env"], "") if db.get("url_env") else "")
    if not url and need_database:
        problems.append(("database", "give url, or url_env naming the variable that holds it "
                                     "(or hallq platform --database)"))
    found: list[tuple[str, str, str]] = []
    security = security_settings(raw.get("security", {}), "", found)
    problems += [(key, text) for _, key, text in found]
    if problems:
        raise CountyConfigError(f"{path}: {format_problems(problems)}")
    c = raw["county"]
    prov = raw.get("provincial")
    provincial = None if prov is None else Provincial(**{**prov, "formats": tuple(prov.get("formats", ("jsonl", "csv")))})
    return CountyConfig(path=path, id=c["id"], name=dict(c["name"]), timezone=c.get("timezone", "Asia/Shanghai"),
                        database_url=url, broker=Broker(**raw["broker"]), ingest=Ingest(**raw.get("ingest", {})),
                        halls=halls, accounts=accounts, console=Console(**raw.get("console", {})),
                        security=security,
                        provincial=provincial)
