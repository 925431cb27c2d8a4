"""The county platform's HTTP API (Flask): sign-in, the registry, each hall's journal, the quarantine.

Who may read what (docs/county.md, "Roles"):

| route | supervisor | hall_manager |
|---|---|---|
| ``GET /health`` | anyone | anyone |
| ``POST /api/v1/auth/login`` | anyone | anyone |
| ``POST /api/v1/auth/password`` (one's own; the only route of a session that must change it) | yes | yes |
| ``GET /api/v1/halls`` | every hall | their hall only |
| ``GET /api/v1/halls/<site>/events`` | any hall | their hall only (403 for another) |
| ``GET /api/v1/alerts?state=open|closed`` | every hall's | their hall's only |
| ``GET /api/v1/quarantine`` | yes | 403 |
| ``POST /api/v1/alerts/<id>/acknowledge``, ``/resolve`` (``{"note": ...}``) | yes | 403 |

and one route for the halls themselves: ``GET /api/v1/nearby?site=&business=`` (就近办, county/nearby.py), with
the county's key for that hall as its bearer token (the key the platform reads its journal with), for that
hall only, and the routes of routed applications (``/api/v1/routing/...``, county/routing.py) for the items
county.toml routes from that hall; no account may call them and the key reaches nothing else.

Everything here only reads but an alert's acknowledgement or resolution (journaled in ``audit``); otherwise the
platform writes only what the halls send. Sign-ins are throttled per address and per (address, username), as a
hall's (county/signin.py): 429 ``too_many_attempts`` with ``Retry-After``. Passwords are argon2id
(as the halls'), a session is a random bearer token of which only the SHA-256 is stored. Errors are
``{"error": {"status": n, "code": "..."}}``: codes, not sentences (the console that shows them
translates, docs/i18n.md).
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import time
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from county import db as county_db
from county import console, console_password, console_web, nearby, passwords, registry, routing, sessions, signin
from county.config import CountyConfig, CountyConfigError, resolve_secret
from hallq import clientaddr, contract

log = logging.getLogger("hallq.county.app")

_hasher = PasswordHasher()
_UNKNOWN_HASH = _hasher.hash(secrets.token_urlsafe(16))  # an unknown user costs as much as a known one


class Refusal(Exception):
    def __init__(self, status: int, code: str, detail: dict | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.detail = status, code, detail


_sha = sessions.sha


def create_app(cfg: CountyConfig, ingest: bool = True) -> Flask:
    app = Flask("county")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    local = threading.local()
    ingester = None
    if ingest:
        from county.ingest import Ingester

        ingester = Ingester(cfg)
        ingester.start()
    app.extensions["county"] = {"cfg": cfg, "ingester": ingester}

    def client_of(req) -> str:
        """The caller's address: the peer's, or behind ``[security] trusted_proxies`` the forwarded one."""
        return clientaddr.of_request(req, cfg.security.trusted_proxies)

    def conn():
        c = getattr(local, "conn", None)
        if c is None or c.closed:
            c = county_db.connect(cfg.database_url, autocommit=True)
            local.conn = c
        return c

    def bearer() -> str:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if not token or len(token) > 200:
            raise Refusal(401, "unauthorized")
        return token

    def actor(password_change: bool = False) -> dict:
        """The caller's account, or 401; 403 ``password_change_required`` for a session that must change its password
        first, unless ``password_change`` (the route where it does)."""
        row = sessions.account(conn(), bearer(), cfg.security)
        if row is None:
            raise Refusal(401, "invalid_token")
        if row["must_change_password"] and not password_change:
            raise Refusal(403, "password_change_required")
        return row

    def may_see(who: dict, site: str) -> None:
        if who["role"] == "supervisor" or who["site"] == site:
            return
        raise Refusal(403, "forbidden")

    def supervisor() -> dict:
        """The caller, who must be a county supervisor (403 otherwise)."""
        who = actor()
        if who["role"] != "supervisor":
            raise Refusal(403, "forbidden")
        return who

    @app.errorhandler(Refusal)
    def refused(e: Refusal):
        body = {"status": e.status, "code": e.code, **({"detail": e.detail} if e.detail else {})}
        resp = jsonify({"error": body})
        if e.status == 429:
            resp.headers["Retry-After"] = str(e.detail["retry_after_seconds"])
        return resp, e.status

    @app.errorhandler(signin.Throttled)
    def throttled(e: signin.Throttled):
        return refused(Refusal(429, "too_many_attempts", {"retry_after_seconds": e.seconds}))

    @app.errorhandler(signin.Busy)
    def busy(_e: signin.Busy):
        resp, status = refused(Refusal(503, "sign_in_busy"))
        resp.headers["Retry-After"] = "1"
        return resp, status

    @app.before_request
    def storable_text_only():
        """PostgreSQL's text cannot hold a NUL character, nor a lone surrogate (which has no UTF-8): one in the
        path, the query, the credentials, a JSON body or a console form is refused at the door (400; the console's
        plain page), never left to fail in a query as a 500."""
        api = request.path.startswith("/api/")
        seen = [request.path, request.headers.get("Authorization", ""), *request.args.keys(),
                *request.args.values()]
        if not api and request.method == "POST":
            seen += [*request.form.keys(), *request.form.values()]
        if api and request.method in ("POST", "PUT", "PATCH"):
            try:
                seen.append(request.get_json(silent=True))  # parsed once here; the route reads Flask's cached copy
            except RecursionError:  # JSON nested thousands deep: Python's parser gives up (silent=True lets it through)
                raise Refusal(400, "invalid_fields") from None
        if any(map(_unstorable, seen)):
            if api:
                raise Refusal(400, "invalid_fields")
            abort(400)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        """What the HTTP layer refuses before a route runs (a body over 16 KiB: 413, ...): the API's one shape."""
        if request.path.startswith("/api/") and e.code is not None:
            return jsonify({"error": {"status": e.code, "code": HTTP_ERRORS.get(e.code, "http_error")}}), e.code
        return e

    @app.errorhandler(500)
    def server_error(e):
        """A fault of the platform's own: the API answers in its one error shape (the cause is in the log, with its
        traceback, never in the answer); the console keeps Flask's plain page."""
        if request.path.startswith("/api/"):
            return jsonify({"error": {"status": 500, "code": "internal_error"}}), 500
        return e

    @app.errorhandler(404)
    def not_found(e):
        return jsonify({"error": {"status": 404, "code": "not_found"}}), 404

    @app.errorhandler(405)
    def not_allowed(e):
        return jsonify({"error": {"status": 405, "code": "method_not_allowed"}}), 405

    @app.get("/health")
    def health():
        try:
            conn().execute("SELECT 1")
            database = "up"
        except Exception:
            local.conn = None
            database = "down"
        body = {"ok": database == "up", "county": cfg.id, "database": database,
                "ingest": ingester.status() if ingester else None}
        return jsonify(body), 200 if database == "up" else 503

    @app.post("/api/v1/auth/login")
    def login():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
                or not isinstance(body.get("password"), str) or len(body["password"]) > 200:
            raise Refusal(400, "invalid_fields")
        token, row, expires = sign_in(body["username"], body["password"], console=False)
        if token is None:
            raise Refusal(401, "bad_login")
        must = sessions.account(conn(), token, cfg.security)["must_change_password"]
        return jsonify({"token": token, "expires_at": expires.isoformat(), "role": row["role"], "site": row["site"],
                        "must_change_password": must})

    @app.post("/api/v1/auth/password")
    def change_password():
        """Change one's own password (county/passwords.py): ``{"current": ..., "new": ...}``; the other sessions end."""
        who = actor(password_change=True)
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or set(body) != {"current", "new"} \
                or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in body.values()):
            raise Refusal(400, "invalid_fields")
        try:
            passwords.change(conn(), cfg.security, client_of(request), who["username"], bearer(), body["current"],
                             body["new"])
        except passwords.Refused as e:
            raise Refusal(e.status, e.code, {"reason": e.reason} if e.reason else None) from None
        return jsonify({"username": who["username"], "must_change_password": False})

    def sign_in(username: str, password: str, console: bool):
        """A new session's token, the account and the expiry; (None, None, None) for a wrong name or password.

        Throttled (county/signin.py): an attempt that must wait raises :class:`county.signin.Throttled` before its
        password is checked (the API answers 429 ``too_many_attempts``, the console's page says how long)."""
        client = client_of(request)
        name = signin.key_of(conn(), username[:40])  # a name that is no account's is kept only as a hash
        with signin.one_at_a_time(conn(), client):
            return _checked(client, name, password, console)

    def _checked(client: str, name: str, password: str, console: bool):
        wait = signin.wait_seconds(conn(), cfg.security, client, name)
        if wait is not None:
            log.info("county sign-in from %s refused: throttled for %d s more", client, wait)
            raise signin.Throttled(wait)
        row = conn().execute("SELECT username, role, site, password_hash FROM accounts WHERE username = %s AND active",
                             (name,)).fetchone()
        try:
            _hasher.verify(row["password_hash"] if row else _UNKNOWN_HASH, password[:200])
            good = row is not None
        except (VerificationError, InvalidHashError):
            good = False
        if not good:
            # a name that is no account's is not logged: it may be a password typed in the wrong box
            log.info("county sign-in refused for %s from %s", repr(name) if row is not None else "an unknown username",
                     client)
            signin.failed(conn(), cfg.security, client, name)
            return None, None, None
        signin.succeeded(conn(), client, row["username"])
        token, expires = sessions.start(conn(), row["username"], console)
        return token, row, expires

    def session(token: str) -> dict | None:
        return sessions.account(conn(), token, cfg.security)

    app.extensions["county"].update(login=lambda u, p: sign_in(u, p, console=True)[:2],
                                    logout=lambda tok: sessions.end(conn(), tok), client_of=client_of)
    console_web.init(app, cfg, conn, session, background=ingest)
    app.register_blueprint(console_password.bp)

    @app.get("/api/v1/halls")
    def halls():
        who = actor()
        rows = registry.halls(conn(), None if who["role"] == "supervisor" else who["site"])
        return jsonify({"halls": rows})

    @app.get("/api/v1/halls/<site>/events")
    def events(site: str):
        who = actor()
        may_see(who, site)
        after = _int_arg("after", 0, 0, 2**62)
        limit = _int_arg("limit", 100, 1, 1000)
        c = conn()
        if c.execute("SELECT 1 FROM halls WHERE site = %s", (site,)).fetchone() is None:
            raise Refusal(404, "unknown_hall")
        rows = c.execute("SELECT seq, at, business_day, actor, action, ticket, business, window_no, data, source "
                         "FROM events WHERE site = %s AND seq > %s ORDER BY seq LIMIT %s", (site, after, limit)).fetchall()
        for r in rows:
            r["at"] = r["at"].isoformat()
            r["business_day"] = r["business_day"].isoformat()
        return jsonify({"site": site, "events": rows, "next_after": rows[-1]["seq"] if rows else after})

    hall_keys: dict[str, tuple[float, str | None]] = {}  # site -> (read at, SHA-256 of its key): re-read each minute

    def hall_key_sha(site: str) -> str | None:
        hall = cfg.halls.get(site)
        if hall is None or not hall.active:
            return None
        cached = hall_keys.get(site)
        if cached and time.monotonic() - cached[0] < 60:
            return cached[1]
        try:
            sha = _sha(resolve_secret(hall.credential, f"halls[site={site}].credential"))
        except CountyConfigError as e:
            log.warning("cannot check hall %s's county key (retried in a minute): %s", site, e)
            sha = None
        hall_keys[site] = (time.monotonic(), sha)
        return sha

    def calling_hall(purpose: str) -> str:
        """The hall asking (its ``site``), proven by the county's key for it (Bearer); 401 otherwise.
        ``purpose`` names the route in the log line of a refusal."""
        site = request.args.get("site", "")
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if not token or len(token) > 200 or not site or len(site) > 40:
            raise Refusal(401, "unauthorized")
        wanted = hall_key_sha(site)
        if wanted is None or not hmac.compare_digest(wanted, _sha(token)):
            log.info("%s refused for hall %r from %s: not its county key", purpose, site[:40], client_of(request))
            raise Refusal(401, "invalid_token")
        shared = sorted(s for s in cfg.halls if s != site and hall_key_sha(s) == wanted)
        if shared:  # one hall could act as the other: neither is served until each has a key of its own
            log.error("%s refused for hall %s: its county key is also hall(s) %s's; give each hall its own key "
                      "(hallq device-key, then credential in county.toml)", purpose, site, ", ".join(shared))
            raise Refusal(401, "invalid_token")
        return site

    @app.get("/api/v1/nearby")
    def nearby_halls():
        site = calling_hall("nearby")
        codes = [b for b in request.args.get("business", "").split(",") if b]
        if not codes or len(codes) > nearby.MAX_BUSINESSES or \
                not all(re.fullmatch(r"[a-z][a-z0-9_]{0,31}", b) for b in codes):
            raise Refusal(400, "invalid_fields")
        limit = _int_arg("limit", 5, 1, nearby.MAX_LIMIT)
        if ingester is None:  # no background fold in this process: fold now, as the console's pages do
            app.extensions["county"]["fold"]()
        found = nearby.nearby(conn(), cfg, site, list(dict.fromkeys(codes)), limit)
        return jsonify({"site": site, "as_of": datetime.now(timezone.utc).isoformat(), "businesses": found})

    # 就近办 across halls: a village's routed applications relayed to the hall that handles them (county/routing.py)
    routing.register(app, cfg, Refusal, lambda: calling_hall("routing"))

    @app.get("/api/v1/quarantine")
    def quarantined():
        supervisor()
        rows = conn().execute("SELECT id, received_at, site, seq, reason, detail, source, topic FROM quarantine "
                              "ORDER BY id DESC LIMIT %s", (_int_arg("limit", 100, 1, 1000),)).fetchall()
        for r in rows:
            r["received_at"] = r["received_at"].isoformat()
        return jsonify({"quarantine": rows})

    @app.get("/api/v1/sign-in/throttles")
    def sign_in_throttles():
        """The sign-in throttles in force (county/signin.py), for a supervisor: what the console's sign-in page
        lists, for scripts and monitoring (a hall's manager API has the same pair of routes for its own)."""
        supervisor()
        return jsonify({"throttles": [_alert_json(r) for r in signin.active(conn())]})

    @app.post("/api/v1/sign-in/throttles/lift")
    def sign_in_throttle_lift():
        """A supervisor ends a throttle (``{"client": "10.0.0.9", "username": "sup"}``; no ``username``: the
        address's counter over every account), journaled in ``audit`` with who lifted it; 404 ``unknown_throttle``
        when none of that pair is in force (lifted meanwhile, or never)."""
        who = supervisor()
        body = request.get_json(silent=True)
        client = body.get("client") if isinstance(body, dict) else None
        username = body.get("username") if isinstance(body, dict) else None
        if not isinstance(client, str) or not 1 <= len(client) <= 64 or \
                not (username is None or (isinstance(username, str) and len(username) <= 40)):
            raise Refusal(400, "invalid_fields")
        if not signin.lift(conn(), client, username or signin.ALL_ACCOUNTS, who["username"]):
            raise Refusal(404, "unknown_throttle")
        return jsonify({"lifted": {"client": client, "username": username or None}})

    @app.get("/api/v1/alerts")
    def alerts():
        """Open or ended alerts: the county's for a supervisor, their own hall's for a hall manager (as the console
        shows them)."""
        who = actor()
        state = request.args.get("state", "open")
        if state not in ("open", "closed"):
            raise Refusal(400, "invalid_fields")
        site = None if who["role"] == "supervisor" else who["site"]
        rows = console.alerts(conn(), site, state, _int_arg("limit", 200, 1, 1000))
        return jsonify({"alerts": [_alert_json(r) for r in rows]})

    @app.post("/api/v1/alerts/<int:alert_id>/<any(acknowledge, resolve):action>")
    def alert_action(alert_id: int, action: str):
        """A county supervisor acknowledges or resolves an alert (``{"note": "what was done"}``); a hall manager
        may not (403), whatever the hall."""
        who = supervisor()
        body = request.get_json(silent=True)
        note = body.get("note", "") if isinstance(body, dict) else None
        if not isinstance(note, str):
            raise Refusal(400, "invalid_fields")
        try:
            row = console.act_on_alert(conn(), alert_id, who["username"], action, note)
        except LookupError:
            raise Refusal(404, "unknown_alert") from None
        except console.AlertClosed:
            raise Refusal(409, "alert_closed") from None
        except ValueError:
            raise Refusal(400, "invalid_note") from None
        return jsonify({"alert": _alert_json(row)})

    return app


def _alert_json(r: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}


# the HTTP layer's refusals (werkzeug), by the code the API answers them with: the hall's (queue_server/api)
HTTP_ERRORS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "request_timeout",
               411: "length_required", 413: "too_large", 414: "uri_too_long", 415: "unsupported_media_type",
               431: "headers_too_large"}


def _unstorable(value) -> bool:
    """Whether a string in ``value`` (JSON, nested) is one PostgreSQL's text cannot hold: a NUL, a lone surrogate."""
    return any("\x00" in t or not contract.has_utf8(t) for t in contract.texts_in(value))


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() takes "²" and "①", which int() then refuses
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not low <= int(raw) <= high:
        raise Refusal(400, "invalid_fields")
    return int(raw)


def hash_password(password: str) -> str:
    return _hasher.hash(password)
