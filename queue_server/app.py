"""The Flask application factory: ``create_app()`` reads as the list of what a server is.

>>> app = create_app("config/city-hall/hall.toml", data_dir="/tmp/hall", mqtt=False)
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from werkzeug.routing import IntegerConverter

from hallq import settings
from hallq.clock import Clock
from hallq.demo import demo_credentials
from hallq.hallconfig import HallConfig, load_hall
from hallq.mqtt import connect_from_settings
from queue_server.db import Database
from queue_server.domain.context import Hall
from queue_server.domain.service import QueueService
from queue_server.hallsync import apply_config
from queue_server.migrations import migrate
from queue_server.publisher import Publisher
from queue_server.snapshots import Snapshots

log = logging.getLogger("hallq.server")

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
    """``<int:…>`` in every route, bounded to SQLite's integers: a larger number in a URL
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
        self.db.close()


def create_app(config: str | os.PathLike[str] | HallConfig | None = None, data_dir: str | os.PathLike[str] | None = None,
               clock: Clock | None = None, mqtt: bool = True, synchronous: str | None = None) -> Flask:
    """Build the server for one hall.

    ``config``: the hall.toml (default: ``$HALLQ_CONFIG`` or the sample city hall).
    ``data_dir``: where the database lives (default: see :func:`hallq.settings.data_dir`).
    ``clock``: a :class:`~hallq.clock.VirtualClock` for tests and simulations.
    ``mqtt``: publish to the broker (off for unit tests that need no broker).
    The hall's own broker, when ``[mqtt] url`` is empty, is started by ``hallq serve`` before the
    workers (queue_server/wsgi.py, hallq/broker.py); the server connects to it as ``server.queue``.
    """
    cfg = config if isinstance(config, HallConfig) else load_hall(settings.config_path(config))
    ddir = settings.data_dir(cfg.site, data_dir)
    hall = Hall(cfg, clock or Clock(ZoneInfo(cfg.timezone)), settings.load_secret(ddir))
    db = Database(ddir / "hallq.sqlite3", synchronous=synchronous or os.environ.get("HALLQ_SQLITE_SYNCHRONOUS", "FULL"))
    migrate(db)
    apply_config(db, hall)
    service = QueueService(db, hall)
    state = HallState(db, hall, service, Snapshots(hall), ddir)

    app = Flask("queue_server")
    app.url_map.converters["int"] = SQLiteInt
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["hallq"] = state
    _init_api(app)
    _warn_operator(cfg, hall)
    if mqtt:
        _init_mqtt(state, cfg)
        from queue_server.watch import start_watch  # tidal windows, statistics rollups, follow-ups

        start_watch(app)
    return app


def _init_api(app: Flask) -> None:
    """Every module of ``queue_server.api`` adds its routes to the API blueprint;
    every module of ``queue_server.web`` (pages) exposes a blueprint ``bp``."""
    from queue_server import api as api_pkg
    from queue_server import web as web_pkg
    from queue_server.api import api, install_error_handlers

    for mod in sorted(pkgutil.iter_modules(api_pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"queue_server.api.{mod.name}")
    app.register_blueprint(api)
    for mod in sorted(pkgutil.iter_modules(web_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"queue_server.web.{mod.name}")
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)
    install_error_handlers(app)


def _init_mqtt(state: HallState, cfg: HallConfig) -> None:
    from queue_server.health_listener import health_handler  # devices' health, for the consoles

    state.publisher = Publisher(state.db, state.hall,
                                lambda: connect_from_settings(cfg.mqtt, cfg.site, "server", "queue", state.data_dir),
                                state.data_dir,
                                subscriptions=[health_handler(state.service, cfg.site)])
    state.publisher.start()


def _warn_operator(cfg: HallConfig, hall: Hall) -> None:
    today = hall.now().date()
    for year in (today.year, today.year + 1):
        if not cfg.calendar.is_known(year) and (year == today.year or today.month >= 11):
            log.warning("the official holidays of %d are unknown to this installation, so weekdays are taken as "
                        "working days: add them under [calendar] holidays/workdays in %s, or upgrade the "
                        "chinesecalendar package", year, cfg.path)
    demo = demo_credentials(cfg)
    if demo:  # `hallq serve` only starts with them in demo mode (hallq/demo.py)
        log.warning("demo mode: the demo credentials are configured for %s; replace them before real use "
                    "(see docs/deployment.md, 'Accounts and keys')", ", ".join(demo[:5]) + (" …" if len(demo) > 5 else ""))
