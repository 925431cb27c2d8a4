"""The JSON API under ``/api/v1``: parse, call the domain, serialise.

Every route is declared with :func:`operation`, which names it for the
domain (``operationId``: ``issue_ticket``, ``call_next``…), states who may
call it, and gives its body schema. The decorator authenticates, validates
the body (400 listing every bad field), and the registry it fills is what
``/api/v1/openapi.json`` is generated from, so the document cannot drift
from the routes.

Every error, from a refused action to an unknown URL, has one shape::

    {"error": {"status": 409, "code": "daily_limit_reached",
               "message": "<in the request's language>",
               "messages": {"zh-Hans": "…", "zh-Hant": "…", "en": "…"},
               "fields": [{"field": "business", "problem": "is required"}],
               "detail": {…}}}
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from hallq.i18n import LANGS
from hallq.schema import Obj, Schema
from queue_server.auth import Unauthorized, actor_for_token
from queue_server.db import DatabaseBusy
from queue_server.domain.accounts import must_change_password
from queue_server.domain.context import Actor
from queue_server.domain.errors import DomainError, Forbidden, unknown_window
from queue_server.domain.rating_prompts import check_bound
from queue_server.domain.windows import authorize_actor

log = logging.getLogger("hallq.api")
_STORAGE_LOG: dict = {}  # when the "disk is full" line was last logged (rate limit)

api = Blueprint("api", __name__, url_prefix="/api/v1")

# who may call: "open" (anyone), "kiosk" (kiosk key or staff), "staff" (signed-in staff),
# "window" (the clerk signed in at the path's window, a manager, or a device bound to it),
# "device" (a device or tablet bound to the path's window, never staff), "manager"
AUTH_RULES = ("open", "kiosk", "staff", "window", "device", "manager")


@dataclass
class Operation:
    operation_id: str
    summary: str
    tag: str
    auth: str
    body: Obj | None = None
    response: Schema | None = None
    errors: tuple[int, ...] = ()
    query: dict[str, Schema] = field(default_factory=dict)
    idempotent: bool = False
    status: int = 200
    description: str = ""


OPERATIONS: dict[str, Operation] = {}  # endpoint name -> operation


def operation(operation_id: str, summary: str, *, tag: str, auth: str = "open", body: Obj | None = None,
              response: Schema | None = None, errors: tuple[int, ...] = (), query: dict[str, Schema] | None = None,
              idempotent: bool = False, status: int = 200, description: str = "") -> Callable:
    if auth not in AUTH_RULES:
        raise ValueError(f"unknown auth rule {auth!r}")
    op = Operation(operation_id, summary, tag, auth, body, response, tuple(errors), query or {}, idempotent,
                   status, description)

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(*args: Any, **kwargs: Any):
            actor = _authenticate(op, kwargs)
            g.actor = actor
            kwargs["actor"] = actor
            if op.body is not None:
                kwargs["body"] = parse_body(op.body)
            if op.idempotent:
                key = request.headers.get("Idempotency-Key")
                kwargs["request_key"] = (actor.label, key[:100]) if key else None
            result = fn(*args, **kwargs)
            if isinstance(result, Response):
                return result
            return jsonify(result), op.status

        OPERATIONS[fn.__name__] = op
        return view

    return deco


# -- authentication -------------------------------------------------------------------

def _token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip() or None
    return None


def request_session_token() -> str | None:
    """The token this request was made with: a bearer token, or the console's session cookie."""
    from queue_server.web.sessions import session_token
    return _token() or session_token()


# what a session whose password was set by someone else (a new account, a reset) may still do through
# the API: choose its own, sign out, read its own account; signing in starts another session and uses none
BEFORE_PASSWORD_CHANGE = frozenset({"change_password", "logout", "whoami", "login"})


def _authenticate(op: Operation, path: dict[str, Any] | None = None) -> Actor:
    """Who is calling, refused unless ``op``'s rule lets them in (docs/api.md, "Who may call what").

    ``path`` holds the route's parameters: under the "window" and "device" rules ``number`` is a
    window, and only a caller who may act for that window gets past the door (``_authorize_window``).
    """
    rule = op.auth
    token = _token()
    actor = None
    if token:
        state = current_app.extensions["hallq"]
        actor = actor_for_token(state.db, state.hall, token)
        if actor is None:
            raise Unauthorized("登录已失效，请重新登录。", "登入已失效，請重新登入。",
                               "The token is invalid or expired; sign in again.", code="invalid_token")
    else:
        # a console in the browser: the session cookie, CSRF-checked for every change (web/sessions.py)
        from queue_server.web.sessions import cookie_actor
        actor = cookie_actor()
    if actor is not None and actor.kind == "staff" and op.operation_id not in BEFORE_PASSWORD_CHANGE \
            and must_change_password(current_app.extensions["hallq"].db.connection(), actor.staff_id):
        raise Forbidden("您的密码由他人设置，请先修改为自己的密码。", "您的密碼由他人設置，請先修改為自己的密碼。",
                        "Your password was set by someone else: change it first (POST /api/v1/auth/password).",
                        code="password_change_required")
    if rule == "open":
        return actor or Actor("anonymous", request.remote_addr or "-")
    if actor is None:
        raise Unauthorized("请先登录。", "請先登入。", "Sign in first (Authorization: Bearer <token>).",
                           code="unauthorized")
    allowed = {
        "kiosk": actor.kind in ("kiosk", "staff"),
        "staff": actor.kind == "staff",
        "window": actor.kind in ("staff", "device"),
        "device": actor.kind in ("device", "kiosk", "tablet"),
        "manager": actor.is_manager,
    }[rule]
    if not allowed:
        raise Forbidden("您没有权限执行此操作。", "您沒有權限執行此操作。", "You are not allowed to do this.",
                        code="forbidden")
    if rule in ("window", "device") and path and "number" in path:
        _authorize_window(rule, actor, path["number"])
    return actor


def _authorize_window(rule: str, actor: Actor, number: int) -> None:
    """A window's rule at the door, for its reads as for its actions, before the body is looked at.

    "window": the clerk signed in there, a manager, or a device bound to it (the domain's
    ``windows.may_act_for``, checked again inside each change's transaction); "device": a device
    bound to it (its rating tablet, its keypads' gateway).
    """
    if rule == "device":
        check_bound(actor, number)
        return
    w = current_app.extensions["hallq"].db.connection().execute(
        "SELECT number, staff_id FROM windows WHERE number = ? AND active", (number,)).fetchone()
    if w is None:
        raise unknown_window(number)
    authorize_actor(actor, w)


# -- bodies and errors -----------------------------------------------------------------

class BadRequest(DomainError):
    status = 400
    code = "bad_request"


def parse_body(schema: Obj) -> dict[str, Any]:
    raw = request.get_data(cache=False)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadRequest("请求内容不是有效的 JSON。", "請求內容不是有效的 JSON。",
                             f"The body is not valid JSON: {e}", code="malformed_json") from None
    problems = schema.validate(data)
    if problems:
        err = BadRequest("请求内容有误：" + "；".join(f"{p} {m}" for p, m in problems),
                         "請求內容有誤：" + "；".join(f"{p} {m}" for p, m in problems),
                         "The request has invalid fields: " + "; ".join(f"{p}: {m}" for p, m in problems),
                         code="invalid_fields")
        err.fields = [{"field": p, "problem": m} for p, m in problems]
        raise err
    return data


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        err = BadRequest(f"参数 {name} 应为 {lo} 到 {hi} 之间的整数。", f"參數 {name} 應為 {lo} 到 {hi} 之間的整數。",
                         f"Query parameter {name} must be an integer from {lo} to {hi}.", code="invalid_fields")
        err.fields = [{"field": name, "problem": f"must be an integer from {lo} to {hi}"}]
        raise err
    return value


def request_lang() -> str:
    best = request.accept_languages.best_match(["zh-Hans", "zh-CN", "zh", "zh-Hant", "zh-TW", "zh-HK", "en"])
    if best in ("zh-Hant", "zh-TW", "zh-HK"):
        return "zh-Hant"
    if best == "en":
        return "en"
    return "zh-Hans"


def error_response(status: int, code: str, messages: dict[str, str], fields: list | None = None,
                   detail: dict | None = None, headers: dict | None = None) -> Response:
    lang = request_lang()
    body = {"error": {"status": status, "code": code, "message": messages.get(lang) or messages.get("en", ""),
                      "messages": {k: messages.get(k, messages.get("en", "")) for k in LANGS},
                      "fields": fields or [], "detail": detail or {}}}
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def install_error_handlers(app) -> None:
    """One error shape for every error under /api (and JSON 404/405 there)."""

    @app.errorhandler(DomainError)
    def _domain(e: DomainError):
        if e.status >= 500:
            log.error("%s: %s", e.code, e)
        return error_response(e.status, e.code, e.messages, getattr(e, "fields", None), e.detail)

    @app.errorhandler(DatabaseBusy)
    def _busy(e: DatabaseBusy):
        log.error("database busy: %s", e)
        return error_response(503, "busy", {"zh-Hans": "系统繁忙，请稍后重试。", "zh-Hant": "系統繁忙，請稍後重試。",
                                            "en": "The system is busy; retry shortly."}, headers={"Retry-After": "1"})

    @app.errorhandler(sqlite3.OperationalError)
    def _storage_full(e: sqlite3.OperationalError):
        # a full disk is the operator's to fix, not a bug: SQLite rolled the change back (nothing is
        # half-written), reads go on, and writes work again as soon as there is space (tests/faults)
        if "disk is full" not in str(e):
            return _crash(e)
        if time.monotonic() - _STORAGE_LOG.get("at", -1e9) > 60:
            _STORAGE_LOG["at"] = time.monotonic()
            log.error("cannot write the database %s: %s. Free space on that disk (old backups, logs, "
                      "announcement WAVs), or move the data directory to a larger disk; until then numbers cannot "
                      "be issued or called, what is recorded stays readable, and nothing is half-written. "
                      "(Said at most once a minute.)", current_app.extensions["hallq"].db.path, e)
        return error_response(507, "storage_full", {
            "zh-Hans": "服务器存储空间已满，暂时无法办理，请联系工作人员。",
            "zh-Hant": "伺服器儲存空間已滿，暫時無法辦理，請聯繫工作人員。",
            "en": "The server's storage is full, so this cannot be done now; please ask the staff."},
            headers={"Retry-After": "60"})

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if not request.path.startswith("/api/"):
            return e
        texts = {
            404: ("没有这个接口。", "沒有這個接口。", f"No such endpoint: {request.path}"),
            405: ("该接口不支持此请求方法。", "該接口不支持此請求方法。", f"Method {request.method} is not allowed here."),
            413: ("请求内容过大。", "請求內容過大。", "The request body is too large."),
        }.get(e.code or 400, ("请求有误。", "請求有誤。", e.description or "Bad request."))
        code = {404: "no_such_endpoint", 405: "method_not_allowed", 413: "too_large"}.get(e.code or 400, "bad_request")
        return error_response(e.code or 400, code, {"zh-Hans": texts[0], "zh-Hant": texts[1], "en": texts[2]})

    @app.errorhandler(Exception)
    def _crash(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", {
            "zh-Hans": "系统内部错误，已记录，请联系管理员。", "zh-Hant": "系統內部錯誤，已記錄，請聯繫管理員。",
            "en": "Internal error; it has been logged. Please tell the administrator."})

