"""The Flask application factory: ``create_app()`` reads as the list of what a server is.

A server is one hall's database and domain service; the JSON API, part by part
(:data:`API_PARTS`); the consoles' and residents' pages (:data:`PAGES`); the MQTT
publisher (``mqtt``); and the housekeeping thread (``housekeeping``). A new part
of the API or a new page is added to its list here (a test fails on one left out).

>>> app = create_app("config/city-hall/hall.toml", data_dir="/tmp/hall", mqtt=False, housekeeping=False)
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from werkzeug.routing import IntegerConverter

from hallq import i18n, settings
from hallq.clock import Clock
from hallq.demo import demo_credentials
from hallq.hallconfig import HallConfig, load_hall
from hallq.mqttlink import wire_from_settings
from queue_server.api import api, install_error_handlers
from queue_server.db import Database
from queue_server.domain.context import Hall
from queue_server.domain.service import QueueService
from queue_server.hallsync import apply_config
from queue_server.hotpath import HotPath
from queue_server.migrations import migrate
from queue_server.nearby import Nearby
from queue_server.nearby import start as start_nearby
from queue_server.publisher import Publisher
from queue_server.routing_outbox import Outbox
from queue_server.routing_outbox import start as start_routing
from queue_server.server_lock import ServerLock
from queue_server.snapshots import Snapshots

log = logging.getLogger("hallq.server")

# The JSON API under /api/v1: importing a part adds its routes to the blueprint ``api``
# (queue_server/api/__init__.py). Alphabetical, the order the routes have always been added in.
API_PARTS = (
    "accounts",  # staff accounts; anyone changes their own password
    "admin",  # signing in; ending the day, notices, the journal, the virtual clock
    "applications",  # applications (前台综合受理) and their progress (进度查询)
    "appointments",  # appointments (预约办事): slots, booking, cancelling, checking in
    "attention",  # what needs a person: help requests, devices reporting a problem
    "console",  # what the consoles read: the live version, a window's console, the rating prompt
    "followups",  # bad-review follow-ups (差评整改) and appeals
    "guides",  # guides edited by the manager, kept as versions; the catalogue as services.toml
    "hall",  # open reads: health, the hall, businesses, guides, board, windows, tickets
    "manager",  # the manager's live view of the hall
    "openapi",  # the OpenAPI document of all of the above
    "packages",  # 一件事 packages: one guide, one form, one window, one tracking number
    "ratings",  # ratings (好差评) from the resident's own device
    "routing",  # 就近办 across halls: routed items and applications, both at the village and the handling hall
    "settings",  # hall settings: businesses, items, holidays, hours, appointment capacity
    "stats",  # statistics (办件统计) as JSON, CSV or Excel
    "throttles",  # sign-in throttles
    "tickets",  # taking a number, cancelling it, re-queuing a missed one
    "tidal",  # tidal windows (潮汐窗口)
    "windows",  # window actions: sign in, call, serve, pass on, pause, allocate
)

# The pages (queue_server/web/): each module's blueprint ``bp``, registered in this order
# (templates and static files are looked up through the blueprints in it).
PAGES = (
    "application_page",  # the resident's progress page of an application or a 一件事 package (/a/<no>)
    "appointment_pages",  # the appointments page (预约管理): bookings, check-in, cancelling, booking for a resident
    "auth_pages",  # signing in and out of the consoles, changing one's password
    "backoffice",  # the back office (后台分类审批)
    "guide_pages",  # guides edited by the manager; the catalogue exported and imported as TOML
    "manager",  # the manager console: live hall, allocation, notices, accounts, the journal
    "ratings_pages",  # the window's rating tablet, following up bad reviews
    "settings_pages",  # hall settings pages
    "stats_pages",  # the statistics page
    "ticket_page",  # the resident's phone page for a ticket (the QR code on the ticket)
    "tidal_pages",  # the tidal windows page
    "window_console",  # the window console (窗口叫号)
)


def _digits_at_most(bound: int) -> str:
    """A regular expression for the decimal numbers from 0 to ``bound``, in ASCII digits.

    >>> import re; [bool(re.fullmatch(_digits_at_most(255), n)) for n in ("0", "255", "256", "1000", "１")]
    [True, True, False, False, False]
    """
    s = str(bound)
    shorter = [f"[0-9]{{1,{len(s) - 1}}}"] if len(s) > 1 else []
    same_length = [f"{s[:i]}[0-{int(d) - 1}][0-9]{{{len(s) - i - 1}}}" for i, d in enumerate(s) if d != "0"]
    return "(?:" + "|".join([*shorter, *same_length, s]) + ")"


class SQLiteInt(IntegerConverter):
    r"""``<int:…>`` in every route, bounded to SQLite's integers: a larger number in a URL
    (found by fuzzing: /windows/99999999999999999999) is simply not a route, a 404,
    instead of an OverflowError deep in the database driver. The bound is in the pattern, not
    only in ``max``: werkzeug checks ``max`` after choosing the route, and so answered 405 where
    another method shares the path. ASCII digits only: werkzeug's ``\d+`` also matched
    ``/windows/１`` (a full-width or Arabic-Indic one) and acted on window 1."""

    regex = _digits_at_most(2**63 - 1)

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


@dataclass
class HallState:
    """What the views reach through ``current_app.extensions["hallq"]``."""

    db: Database
    hall: Hall
    service: QueueService
    snapshots: Snapshots
    data_dir: Path
    publisher: Publisher | None = None
    presence: ServerLock | None = None  # the shared lock that says a server runs on data_dir (hallq restore)
    nearby: Nearby | None = None  # nearby halls' waits from the county platform (queue_server/nearby.py), or None
    routing: "Outbox | None" = None  # the outbox of routed applications (queue_server/routing_outbox.py), or None
    _closed: bool = False

    def mqtt_state(self) -> str:
        p = self.publisher
        if p is None:
            return "disabled"
        if not p.leader:
            return "follower"  # another server process publishes
        return "connected" if p.conn is not None and p.conn.connected.is_set() else "disconnected"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.publisher is not None:
            self.publisher.stop()
        if self.nearby is not None:
            self.nearby.stop()
        if self.routing is not None:
            self.routing.stop()
        self.db.close()
        if self.presence is not None:
            self.presence.release()


def create_app(config: str | os.PathLike[str] | HallConfig | None = None, data_dir: str | os.PathLike[str] | None = None,
               clock: Clock | None = None, mqtt: bool = True, housekeeping: bool = True,
               synchronous: str | None = None) -> Flask:
    """Build the server for one hall.

    ``config``: the hall.toml (default: ``$HALLQ_CONFIG`` or the sample city hall).
    ``data_dir``: where the database lives (default: see :func:`hallq.settings.data_dir`).
    ``clock``: a :class:`~hallq.clock.VirtualClock` for tests and simulations.
    ``mqtt``: publish hall state to the broker and listen to the devices' health
    (off for tests that need no broker). The hall's own broker, when ``[mqtt] url`` is
    empty, is Mosquitto, a process of its own that ``hallq serve`` starts before the
    workers (queue_server/wsgi.py, hallq/broker.py); the server connects to it as
    ``server.queue``.
    ``housekeeping``: run the housekeeping thread (queue_server/watch.py): tidal
    windows, statistics rollups, bad-review follow-ups, sign-in throttles gone quiet,
    erasing personal data past its retention. Independent of ``mqtt``; off for tests
    that must see only their own writes (they call ``Watch.run_once`` when they mean
    to). With the publisher on, only the process leading it runs rounds; without, every
    process with housekeeping does (safe: each decision is made again in its transaction).
    """
    cfg = config if isinstance(config, HallConfig) else load_hall(settings.config_path(config))
    ddir = settings.data_dir(cfg.site, data_dir)
    i18n.use_traditional(cfg.traditional)  # the Traditional Chinese this hall shows (hk or tw)
    hall = Hall(cfg, clock or Clock(ZoneInfo(cfg.timezone)), settings.load_secret(ddir))
    presence = ServerLock(ddir)
    presence.share()  # before the database is opened: hallq restore refuses while it is held
    db = Database(ddir / "hallq.sqlite3", synchronous=synchronous or os.environ.get("HALLQ_SQLITE_SYNCHRONOUS", "FULL"))
    migrate(db, hall.secret)
    apply_config(db, hall)
    service = QueueService(db, hall)
    state = HallState(db, hall, service, Snapshots(hall), ddir, presence=presence)

    app = Flask("queue_server")
    app.url_map.converters["int"] = SQLiteInt
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["hallq"] = state
    _add_api(app)
    _add_pages(app)
    install_error_handlers(app)  # one error shape under /api, pages or not
    # a kiosk's plain POST /api/v1/tickets, the busiest request, answered without Flask's per-request
    # machinery through the same door, checks and service (queue_server/hotpath.py); the rest is Flask's
    app.wsgi_app = HotPath(app, app.wsgi_app)  # type: ignore[method-assign]
    _warn_operator(cfg, hall)
    if mqtt:
        _init_mqtt(state, cfg)
    # 就近办: the county platform's nearby halls, refreshed in the background (none without [platform])
    state.nearby = start_nearby(Path(cfg.path), cfg.site, list(cfg.businesses))
    # 就近办 across halls: the outbox forwarding routed applications through the county platform (same link)
    state.routing = start_routing(service, Path(cfg.path), ddir)
    if housekeeping:
        from queue_server.watch import start_watch

        start_watch(app)
    return app


def _add_api(app: Flask) -> None:
    for part in API_PARTS:
        importlib.import_module(f"queue_server.api.{part}")
    app.register_blueprint(api)


def _add_pages(app: Flask) -> None:
    for page in PAGES:
        app.register_blueprint(importlib.import_module(f"queue_server.web.{page}").bp)


def _init_mqtt(state: HallState, cfg: HallConfig) -> None:
    from queue_server.health_listener import health_handler  # devices' health, for the consoles

    state.publisher = Publisher(state.db, state.hall,
                                lambda: wire_from_settings(cfg.mqtt, cfg.site, "server", "queue", state.data_dir),
                                state.data_dir,
                                subscriptions=[health_handler(state.service, cfg.site)])
    state.publisher.start()


def _warn_operator(cfg: HallConfig, hall: Hall) -> None:
    today = hall.now().date()
    for year in (today.year, today.year + 1):
        if not cfg.calendar.is_known(year) and (year == today.year or today.month >= 11):
            log.warning("the official holiday arrangement of %d is unknown to this installation, so its working days "
                        "are the weekdays less the statutory holidays computed from the law (元旦, 春节, 清明, 劳动节, "
                        "端午, 中秋, 国庆) without any make-up workday (调休): confirm them on the manager's calendar "
                        "page or under [calendar] holidays/workdays in %s, or upgrade the chinesecalendar package",
                        year, cfg.path)
    demo = demo_credentials(cfg)
    if demo:  # `hallq serve` only starts with them in demo mode (hallq/demo.py)
        log.warning("demo mode: the demo credentials are configured for %s; replace them before real use "
                    "(see docs/deployment.md, 'Accounts and keys')", ", ".join(demo[:5]) + (" …" if len(demo) > 5 else ""))
