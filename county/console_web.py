"""The supervision console (统一监督): the platform's pages, signed in with the platform's accounts.

| page | supervisor | hall_manager |
|---|---|---|
| ``/console/`` every hall on one page, the alerts | every hall | their hall only |
| ``/console/rankings`` halls, departments, businesses, items (``?format=csv`` or ``xlsx``) | the county | their hall's |
| ``/console/alerts`` open and ended; ``POST .../<id>/acknowledge``, ``/resolve`` | every hall's, acts | their hall's (no POST) |
| ``/console/stats`` (charts; ``?format=csv`` or ``xlsx``) | the county or any hall | their hall only |
| ``/console/halls/<site>/journal`` (read-only, paged) | any hall | their hall only (403 for another) |
| ``/console/sign-ins`` the sign-in throttles in force; ``POST .../lift`` | reads, lifts | 403 |
| ``/console/password`` one's own password (county/console_password.py) | yes | yes |

A session is the API's (a random token, only its SHA-256 stored in ``sessions``) in an HttpOnly,
SameSite=Strict cookie. A form that changes something (an alert acknowledged or resolved) carries the session's
CSRF token, an HMAC-SHA256 of the session token under the platform's key (``platform_secrets``), as a hall's
consoles do (docs/security.md, "CSRF"), and a request whose ``Origin`` names another site is refused too.
Every text comes from the ``county.*`` catalogue (hallq/locale/*/county.po).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, make_response, redirect, render_template, request
from markupsafe import Markup, escape

from county import console, sessions, signin
from hallq import clientaddr, i18n, spreadsheet
from hallq.i18n import LANGS, pick
from hallq.webguard import foreign_origin

bp = Blueprint("county_console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")
COOKIE = "hallq_county"
LOGIN_CSRF_COOKIE = "hallq_county_login_csrf"
LANG_COOKIE = "hallq_lang"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGE = 100
PASSWORD_PAGES = frozenset({"county_password.password_form", "county_password.password_post"})  # county/console_password.py


def _ext() -> dict:
    return current_app.extensions["county"]


def lang() -> str:
    if "lang" not in g:
        wanted = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
        if wanted not in LANGS:
            best = request.accept_languages.best_match(["zh-Hans", "zh-CN", "zh", "zh-Hant", "zh-TW", "zh-HK", "en"])
            wanted = "zh-Hant" if best in ("zh-Hant", "zh-TW", "zh-HK") else "en" if best == "en" else "zh-Hans"
        g.lang = wanted
    return g.lang


def t(key: str, /, **params: Any) -> str:
    return i18n.text(key, lang(), **params)


def render(template: str, status: int = 200, **ctx: Any) -> Response:
    cfg = _ext()["cfg"]
    body = render_template(template, t=t, lang=lang(), who=g.get("who"), csrf=g.get("csrf"), county=pick(cfg.name, lang()),
                           pick=lambda v: pick(v, lang()), here=request.path, pct=_pct, **ctx)
    resp = make_response(body, status)
    if request.args.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, request.args["lang"], max_age=365 * 86400, samesite="Lax")
    return resp


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def page(fn: Callable) -> Callable:
    """A page for a signed-in account; one not signed in goes to the sign-in page. A POST must carry the
    session's CSRF token (a form's ``csrf_token`` or ``X-CSRF-Token``) and no foreign ``Origin``: else 403."""

    @functools.wraps(fn)
    def view(*args: Any, **kwargs: Any):
        token = request.cookies.get(COOKIE, "")
        who = _ext()["session"](token) if token and len(token) <= 200 else None
        if who is None:
            return redirect("/console/login")
        if who["must_change_password"] and request.endpoint not in PASSWORD_PAGES:
            return redirect("/console/password")  # a temporary or expired password: nothing else until it is changed
        g.who, g.csrf, g.token = who, csrf_token(token), token
        if request.method == "POST":
            sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
            if foreign_origin(request.headers.get("Origin"), request.host) or not hmac.compare_digest(sent, g.csrf):
                return render("county/error.html", 403, message=t("county.error.csrf_failed"))
        folder = _ext()["fold"]
        folder()
        return fn(*args, who=who, **kwargs)

    return view


def csrf_token(session_token: str) -> str:
    """The session's CSRF token: needs no storage, dies with the session, useless for another session."""
    ext = _ext()
    if "csrf_key" not in ext:
        c = ext["conn"]()
        c.execute("INSERT INTO platform_secrets (name, value) VALUES ('csrf', %s) ON CONFLICT DO NOTHING",
                  (secrets.token_bytes(32),))
        ext["csrf_key"] = bytes(c.execute("SELECT value FROM platform_secrets WHERE name = 'csrf'").fetchone()["value"])
    return hmac.new(ext["csrf_key"], session_token.encode(), hashlib.sha256).hexdigest()


def _may_see(who: dict, site: str) -> bool:
    return who["role"] == "supervisor" or who["site"] == site


def _forbidden() -> Response:
    return render("county/error.html", 403, message=t("county.error.forbidden"))


def _period() -> tuple[date, date, int]:
    raw = request.args.get("days", "30")
    days = int(raw) if re.fullmatch(r"[0-9]{1,4}", raw) and 1 <= int(raw) <= 3660 else 30  # ASCII, int() takes it
    end = console.today(_ext()["cfg"])
    return end - timedelta(days=days - 1), end, days


def init(app, cfg, conn: Callable, session: Callable, background: bool) -> None:
    """Register the console on the platform's app; with ``background``, fold and check alerts every few seconds."""
    lock = threading.Lock()

    def fold() -> None:
        with lock:
            console.fold(conn(), cfg)

    app.extensions["county"].update(session=session, fold=fold, conn=conn)
    app.register_blueprint(bp)
    zone = ZoneInfo(cfg.timezone)
    # a moment as the county reads its clock: PostgreSQL hands timestamps back in its session's zone (often UTC)
    app.jinja_env.filters["local"] = lambda moment, fmt: moment.astimezone(zone).strftime(fmt)

    @app.after_request
    def headers(resp: Response) -> Response:
        if request.path.startswith("/console"):
            resp.headers["Content-Security-Policy"] = CSP
            resp.headers["X-Content-Type-Options"] = "nosniff"
            resp.headers["Referrer-Policy"] = "no-referrer"
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    if background:
        stop = threading.Event()
        app.extensions["county"]["console_stop"] = stop

        def loop() -> None:
            from county import db as county_db

            own, housekept = None, 0.0
            while not stop.wait(5):
                try:
                    if own is None or own.closed:
                        own = county_db.connect(cfg.database_url, autocommit=True)
                    console.fold(own, cfg)
                    console.check_alerts(own, cfg)
                    if time.monotonic() - housekept > 3600:  # sign-in throttles gone quiet
                        signin.forget_quiet(own)
                        housekept = time.monotonic()
                except Exception as e:  # the database away: next round
                    console.log.warning("console fold/alerts failed (retrying in 5 s): %s", e)
                    own = None

        threading.Thread(target=loop, name="county-console", daemon=True).start()


def throttled_message(seconds: int) -> str:
    """How long a throttled attempt must wait, in the hall's own words (errors catalogue)."""
    if seconds < 120:
        return t("error.too_many_attempts.seconds", seconds=seconds)
    return t("error.too_many_attempts.minutes", minutes=math.ceil(seconds / 60))


def secure_cookies() -> bool:
    """Mark cookies ``Secure`` on HTTPS, also when a trusted reverse proxy ended it (``X-Forwarded-Proto: https``
    from a peer in ``[security] trusted_proxies``), and on loopback (browsers treat it as a secure context)."""
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    proxied = clientaddr.is_trusted(request.remote_addr, _ext()["cfg"].security.trusted_proxies) \
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    return request.is_secure or proxied or host in ("localhost", "127.0.0.1", "::1")


def _login_page(status: int = 200, **ctx: Any) -> Response:
    """The sign-in form with a fresh double-submit token: its cookie (SameSite=Strict, so a page of another site
    cannot send it) and the form's hidden field must agree for an attempt to be checked at all."""
    token = secrets.token_urlsafe(24)
    resp = render("county/login.html", status, login_csrf=token, **ctx)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=secure_cookies(),
                    path="/console/login", max_age=3600)
    return resp


@bp.get("/console/login")
def login_form():
    return _login_page()


@bp.post("/console/login")
def login_post():
    """A sign-in from the form. One not sent by this site's own form (no matching double-submit token, or a foreign
    ``Origin``) is refused before its password is checked and not counted: a page of another site could otherwise
    post wrong passwords from the supervisor's own browser, throttling their address, or sign them in as someone
    else."""
    sent, expected = request.form.get("csrf_token", ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if foreign_origin(request.headers.get("Origin"), request.host) or not expected \
            or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _login_page(403, throttled=t("county.login.page_expired"))
    try:
        token, _who = _ext()["login"](request.form.get("username", ""), request.form.get("password", ""))
    except signin.Busy:  # another sign-in from this address is being checked
        resp = _login_page(503, throttled=t("error.sign_in_busy"))
        resp.headers["Retry-After"] = "1"
        return resp
    except signin.Throttled as e:
        resp = _login_page(429, throttled=throttled_message(e.seconds))
        resp.headers["Retry-After"] = str(e.seconds)
        return resp
    if token is None:
        return _login_page(401, failed=True)
    resp = redirect("/console/")
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure_cookies(),
                    max_age=sessions.SESSION_HOURS * 3600)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return resp


@bp.post("/console/logout")
def logout():
    token = request.cookies.get(COOKIE, "")
    if token:
        _ext()["logout"](token)
    resp = redirect("/console/login")
    resp.delete_cookie(COOKIE)
    return resp


@bp.get("/console/")
@page
def overview(who):
    cfg, c = _ext()["cfg"], _ext()["conn"]()
    site = None if who["role"] == "supervisor" else who["site"]
    halls = console.overview(c, cfg, site)
    alerts = console.alerts(c, site, "open")
    totals = {"waiting": sum(h["waiting"] for h in halls), "open_windows": sum(h["open_windows"] for h in halls),
              "online": sum(1 for h in halls if h["server_state"] == "online"), "halls": len(halls),
              "overdue": sum(h["overdue"] for h in halls)}
    return render("county/overview.html", halls=halls, alerts=alerts, totals=totals, thresholds=cfg.console)


@bp.get("/console/rankings")
@page
def rankings(who):
    by = request.args.get("by", "hall")
    if by not in console.RANKINGS:
        by = "hall"
    start, end, days = _period()
    site = None if who["role"] == "supervisor" else who["site"]
    c = _ext()["conn"]()
    rows = console.rankings(c, by, start, end, site)
    names = {r["site"]: pick(r["name"], lang()) for r in c.execute("SELECT site, name FROM halls")} \
        if by == "hall" else {}
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        head = ["#", t(f"county.rankings.by_{by}"), *_measures_head()]
        out = [[i, names.get(r["key"], r["key"]), *_measures(r)] for i, r in enumerate(rows, 1)]
        return export(head, out, fmt, f"county-rankings-{by}-{site or 'all'}-{start.isoformat()}-{end.isoformat()}")
    return render("county/rankings.html", rows=rows, by=by, days=days, start=start, end=end, names=names,
                  kinds=list(console.RANKINGS))


@bp.get("/console/alerts")
@page
def alerts_page(who, status: int = 200, problem: str | None = None):
    """Open alerts (with their acknowledgement) and ended ones (resolved by whom and how, or ended by themselves);
    a supervisor acknowledges or resolves, a hall manager reads their hall's."""
    state = "closed" if request.args.get("state") == "closed" else "open"
    site = None if who["role"] == "supervisor" else who["site"]
    c = _ext()["conn"]()
    rows = console.alerts(c, site, state)
    names = {r["site"]: pick(r["name"], lang()) for r in c.execute("SELECT site, name FROM halls")}
    return render("county/alerts.html", status, rows=rows, state=state, names=names, problem=problem,
                  may_act=who["role"] == "supervisor", note_max=console.NOTE_MAX)


@bp.post("/console/alerts/<int:alert_id>/<any(acknowledge, resolve):action>")
@page
def alert_action(who, alert_id: int, action: str):
    if who["role"] != "supervisor":
        return _forbidden()
    try:
        console.act_on_alert(_ext()["conn"](), alert_id, who["username"], action, request.form.get("note", ""))
    except LookupError:
        return render("county/error.html", 404, message=t("county.alerts.unknown"))
    except console.AlertClosed:
        return alerts_page.__wrapped__(who=who, status=409, problem=t("county.alerts.already_closed"))
    except ValueError:
        return alerts_page.__wrapped__(who=who, status=400, problem=t("county.alerts.note_required",
                                                                        n=console.NOTE_MAX))
    return redirect("/console/alerts", 303)


@bp.get("/console/sign-ins")
@page
def sign_ins(who, status: int = 200, problem: str | None = None):
    """The sign-in throttles in force (county/signin.py), for a supervisor, who may lift one."""
    if who["role"] != "supervisor":
        return _forbidden()
    return render("county/sign_ins.html", status, rows=signin.active(_ext()["conn"]()), problem=problem,
                  security=_ext()["cfg"].security)


@bp.post("/console/sign-ins/lift")
@page
def sign_in_lift(who):
    if who["role"] != "supervisor":
        return _forbidden()
    client, username = request.form.get("client", "")[:64], request.form.get("username", "")[:40]
    if not client or not signin.lift(_ext()["conn"](), client, username, who["username"]):
        return sign_ins.__wrapped__(who=who, status=409, problem=t("county.sign_ins.not_in_force"))
    return redirect("/console/sign-ins", 303)


@bp.get("/console/stats")
@page
def stats(who):
    start, end, days = _period()
    site = request.args.get("site") or None
    if who["role"] != "supervisor":
        if site not in (None, who["site"]):
            return _forbidden()
        site = who["site"]
    series = console.daily_series(_ext()["conn"](), start, end, site)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        head = [t("county.col.day"), *_measures_head()]
        out = [[r["key"].isoformat(), *_measures(r)] for r in series]
        return export(head, out, fmt, f"county-{site or 'all'}-{start.isoformat()}-{end.isoformat()}")
    labels = [r["key"].strftime("%m-%d") for r in series]
    charts = [
        bars(t("county.stats.chart_volume"), labels, [(t("county.col.issued"), [r["issued"] for r in series]),
                                                      (t("county.col.served"), [r["served"] for r in series])]),
        bars(t("county.stats.chart_wait"), labels, [(t("county.col.avg_wait"), [r["avg_wait_minutes"] for r in series])],
             t("county.unit.minutes")),
    ]
    halls = _ext()["conn"]().execute("SELECT site, name FROM halls WHERE active ORDER BY site").fetchall() \
        if who["role"] == "supervisor" else []
    return render("county/stats.html", series=series, charts=charts, days=days, site=site, halls=halls,
                  start=start, end=end)


def _measures_head() -> list[str]:
    """The measures every report exports (rankings and statistics alike), in the reader's language."""
    return [t(f"county.col.{c}") for c in ("issued", "called", "served", "avg_wait", "on_time", "rated", "bad",
                                           "satisfaction")]


def _measures(r: dict) -> list:
    return [r["issued"], r["called"], r["served"], r["avg_wait_minutes"], _ratio(r["on_time_rate"]), r["rated"],
            r["bad"], _ratio(r["satisfaction"])]


def _ratio(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def export(head: list[str], rows: list[list], fmt: str, name: str) -> Response:
    """A report as a download: CSV (UTF-8 with a BOM, for Excel) or an Excel workbook, its cells safe to open
    (hallq/spreadsheet.py: names come from the halls' events)."""
    body, media = spreadsheet.table_file(head, rows, fmt, t("county.stats.sheet"))
    resp = make_response(body)
    resp.headers["Content-Type"] = media
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return resp


@bp.get("/console/halls/<site>/journal")
@page
def journal(who, site: str):
    if not _may_see(who, site):
        return _forbidden()
    c = _ext()["conn"]()
    hall = c.execute("SELECT site, name FROM halls WHERE site = %s", (site,)).fetchone()
    if hall is None:
        return render("county/error.html", 404, message=t("county.error.unknown_hall"))
    raw = request.args.get("after", "0")
    after = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else 0
    rows = c.execute("SELECT seq, at, business_day, actor, action, ticket, business, window_no, data FROM events "
                     "WHERE site = %s AND seq > %s ORDER BY seq LIMIT %s", (site, after, PAGE + 1)).fetchall()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    for r in rows:
        r["data"] = json.dumps(r["data"], ensure_ascii=False)[:300]
        key = f"domain.journal.{r['action']}"  # the action in words, as the hall's own journal page says it
        r["action_name"] = t(key) if i18n.has(key) else r["action"]
    return render("county/journal.html", hall=hall, rows=rows, after=after,
                  next_after=rows[-1]["seq"] if rows and more else None)


# -- a chart, drawn on the server as SVG (no script, nothing from elsewhere) ---------------------------

W, H, LEFT, BOTTOM, TOP = 900, 260, 50, 40, 30
COLOURS = ("#0b5cad", "#1e6b34")


def bars(title: str, labels: list[str], series: list[tuple[str, list]], unit: str = "") -> Markup:
    values = [v for _, vs in series for v in vs if v is not None]
    top = max(values, default=0) or 1
    step = 10 ** math.floor(math.log10(top / 4)) if top >= 4 else 1
    ymax = math.ceil(top / step / 4) * step * 4
    pw, ph = W - LEFT - 10, H - TOP - BOTTOM
    out = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>",
           f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        y = TOP + ph - ph * i / 4
        out.append(f'<line x1="{LEFT}" x2="{W - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ccc"/>'
                   f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                   f'{ymax * i / 4:g}{escape(unit)}</text>')
    for k, (name, _) in enumerate(series):
        x = LEFT + 200 * k + 250
        out.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{COLOURS[k % 2]}"/>'
                   f'<text x="{x + 16}" y="18" font-size="12">{escape(name)}</text>')
    if labels:
        group = pw / len(labels)
        bw = max(1.0, group * 0.8 / len(series))
        for i, label in enumerate(labels):
            for k, (name, vs) in enumerate(series):
                v = vs[i] or 0
                h = ph * v / ymax
                x = LEFT + group * i + group * 0.1 + bw * k
                out.append(f'<rect x="{x:.1f}" y="{TOP + ph - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                           f'fill="{COLOURS[k % 2]}"><title>{escape(label)} {escape(name)}: {v:g}</title></rect>')
            if len(labels) <= 31 or i % math.ceil(len(labels) / 31) == 0:
                out.append(f'<text x="{LEFT + group * (i + 0.5):.1f}" y="{H - BOTTOM + 16}" font-size="10" '
                           f'text-anchor="middle">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


STATIC = Path(__file__).resolve().parent / "static"
