"""The JSON API under ``/api/v1``: parse, call the domain, serialise.

A route parses and authorises the request, calls a domain service for a change
(``QueueService`` and its desks: one transaction each) or the read model
(:mod:`queue_server.readmodel`) for a view, and shapes the answer; it holds no SQL
(tests/queue_server/test_layers.py). What the pages share with it (sessions, the
request's language) is in :mod:`queue_server.http_common`.

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
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from hallq.i18n import LANGS, languages, text
from hallq.schema import Obj, Schema
from queue_server.api.inputs import (IDEMPOTENCY_KEY, Malformed, Problem, load_json, parse_int, printable,
                                     text_problem, value_problems)
from queue_server.api.keepalive import KNOWN_CALLER, finish_body
from queue_server.auth import Unauthorized, actor_for_token
from queue_server.db import DatabaseBusy
from queue_server.domain.context import Actor
from queue_server.domain.errors import DomainError, Forbidden, messages
from queue_server.domain.rating_prompts import check_bound
from queue_server.domain.windows import authorize_actor
from queue_server.http_common import cookie_actor, request_lang, session_token
from queue_server.readmodel import consoles as console_reads

log = logging.getLogger("hallq.api")
_STORAGE_LOG: dict = {}  # when the "disk is full" line was last logged (rate limit)

api = Blueprint("api", __name__, url_prefix="/api/v1")

# who may call: "open" (anyone), "kiosk" (kiosk key or staff), "staff" (signed-in staff),
# "window" (the clerk signed in at the path's window, a manager, or a device bound to it),
# "device" (a device or tablet bound to the path's window, never staff), "manager",
# "journal" (a manager, or the county platform's key: [[devices]] kind = "county", which may read the journal only),
# "routing" (the county platform's routing key: [[devices]] kind = "routing", which may only file applications
# routed from a village station and read their progress; docs/county.md "Routed applications")
AUTH_RULES = ("open", "kiosk", "staff", "window", "device", "manager", "journal", "routing")


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
    media: tuple[str, ...] = ("application/json",)  # of the answer: downloads are text/csv or xlsx
    max_body: int | None = None  # bytes; None: the app's MAX_CONTENT_LENGTH (64 KB)

    def statuses(self, methods: set[str], path_params: bool) -> list[int]:
        """Every status this operation can answer, for the document: its own ``errors`` and what the
        API layer answers for any operation of its kind (tests/faults check the document against replies)."""
        codes = {self.status, *self.errors,
                 400,   # a malformed query, path or header (not UTF-8, a lone surrogate, a NUL)
                 414,   # a query string over MAX_QUERY
                 401,   # a token that is not valid, on any operation
                 403,   # not for this caller; a console's change without its CSRF token; a password to change
                 503}   # the database stayed locked
        if path_params:
            codes.add(404)  # nothing by that name, or no route at all (a number beyond 64 bits)
        if self.body is not None:
            codes |= {413, 415}  # too large; not JSON
        if self.max_body:
            codes.add(413)
        if methods - {"GET"}:
            codes.add(507)  # the disk is full
        return sorted(codes)


OPERATIONS: dict[str, Operation] = {}  # endpoint name -> operation


def operation(operation_id: str, summary: str, *, tag: str, auth: str = "open", body: Obj | None = None,
              response: Schema | None = None, errors: tuple[int, ...] = (), query: dict[str, Schema] | None = None,
              idempotent: bool = False, status: int = 200, description: str = "",
              media: tuple[str, ...] = ("application/json",), max_body: int | None = None) -> Callable:
    if auth not in AUTH_RULES:
        raise ValueError(f"unknown auth rule {auth!r}")
    op = Operation(operation_id, summary, tag, auth, body, response, tuple(errors), query or {}, idempotent,
                   status, description, tuple(media), max_body)

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(*args: Any, **kwargs: Any):
            actor = _authenticate(op, kwargs)
            g.actor = actor
            kwargs["actor"] = actor
            check_parameters()
            if op.idempotent:
                key = idempotency_key()
                kwargs["request_key"] = (actor.label, key) if key else None
            if op.body is not None:
                kwargs["body"] = parse_body(op.body)
            result = fn(*args, **kwargs)
            if isinstance(result, Response):
                return result
            # what jsonify writes outside debug mode, without its per-call argument handling (the hot path)
            app = current_app
            return app.response_class(f"{app.json.dumps(result, separators=(',', ':'))}\n", status=op.status,
                                      mimetype="application/json")

        OPERATIONS[fn.__name__] = op
        return view

    return deco


@api.before_request
def _limit_body() -> None:
    """Refuse a body over its operation's limit before anything else, from its Content-Length (413).

    Before authentication too: the body is then not read, and ``finish_body`` (keepalive.py) reads it for a
    known caller or has the connection closed for anyone else.
    """
    op = OPERATIONS.get((request.endpoint or "").rpartition(".")[2])
    if op is None or (op.body is None and not op.max_body):
        return  # an operation that reads no body: whatever is sent is not looked at
    if op.max_body:
        request.max_content_length = op.max_body
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


# -- authentication -------------------------------------------------------------------

MAX_TOKEN = 512  # session tokens and device keys are far shorter
MAX_QUERY = 4096  # bytes of query string; ours are a few dozen (Granian itself refuses a URI over ~64 KB)


def _token() -> str | None:
    return bearer_token(request.headers.get("Authorization", ""))


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization`` header's value, None without one; 401 for what is never a token."""
    if header.startswith("Bearer "):
        token = header[7:].strip()
        if len(token) > MAX_TOKEN or (token and (text_problem(token) or not token.isprintable())):
            # never a token of ours: refused like any unknown one, without a lookup
            raise Unauthorized("error.invalid_token", code="invalid_token")
        return token or None
    return None


def request_session_token() -> str | None:
    """The token this request was made with: a bearer token, or the console's session cookie."""
    return _token() or session_token()


# what a session whose password was set by someone else (a new account, a reset) may still do through
# the API: choose its own, sign out, read its own account; signing in starts another session and uses none
BEFORE_PASSWORD_CHANGE = frozenset({"change_password", "logout", "whoami", "login"})


def _authenticate(op: Operation, path: dict[str, Any] | None = None) -> Actor:
    """Who is calling, refused unless ``op``'s rule lets them in (docs/api.md, "Who may call what").

    ``path`` holds the route's parameters: under the "window" and "device" rules ``number`` is a
    window, and only a caller who may act for that window gets past the door (``_authorize_window``).
    """
    state = current_app.extensions["hallq"]
    token = _token()
    # without a bearer token: a console in the browser, its session cookie CSRF-checked for every change
    # (http_common.py)
    actor = bearer_actor(state, token) if token else cookie_actor()
    if actor is not None:
        request.environ[KNOWN_CALLER] = True  # a body left unread is then read, not the connection closed (keepalive.py)
    if op.auth == "open":
        admit_staff(state, op, actor)
        return actor or Actor("anonymous", request.remote_addr or "-")
    return admit(state, op, actor, path)


def bearer_actor(state, token: str) -> Actor:
    """The staff member or device of a bearer token; 401 ``invalid_token`` for an unknown one."""
    actor = actor_for_token(state.db, state.hall, token)
    if actor is None:
        raise Unauthorized("error.invalid_token", code="invalid_token")
    return actor


def admit_staff(state, op: Operation, actor: Actor | None) -> None:
    """403 for a staff session that must change its password first, unless ``op`` is how it does.

    The flag read with the session (``actor.must_change_password``, the same moment) saves a SELECT."""
    if actor is not None and actor.kind == "staff" and op.operation_id not in BEFORE_PASSWORD_CHANGE:
        must = actor.must_change_password
        if must is None:
            must = console_reads.must_change_password(state, actor.staff_id)
        if must:
            raise Forbidden("error.password_change_required", code="password_change_required")


def admit(state, op: Operation, actor: Actor | None, path: dict[str, Any] | None = None) -> Actor:
    """``actor`` past ``op``'s rule (not "open"), or 401/403: the door of every operation, the hot path's too
    (queue_server/hotpath.py)."""
    rule = op.auth
    admit_staff(state, op, actor)
    if actor is None:
        raise Unauthorized("error.unauthorized", code="unauthorized")
    allowed = {
        "kiosk": actor.kind in ("kiosk", "staff"),
        "staff": actor.kind == "staff",
        "window": actor.kind in ("staff", "device"),
        "device": actor.kind in ("device", "kiosk", "tablet"),
        "manager": actor.is_manager,
        "journal": actor.is_manager or actor.kind == "county",
        "routing": actor.kind == "routing",
    }[rule]
    if not allowed:
        raise Forbidden("error.forbidden", code="forbidden")
    admit_window(state, op, actor, path)
    return actor


def admit_window(state, op: Operation, actor: Actor, path: dict[str, Any] | None) -> None:
    """The window's part of :func:`admit` (a window's rule, the path naming one)."""
    if op.auth in ("window", "device") and path and "number" in path:
        _authorize_window(state, op.auth, actor, path["number"])


def _authorize_window(state, rule: str, actor: Actor, number: int) -> None:
    """A window's rule at the door, for its reads as for its actions, before the body is looked at.

    "window": the clerk signed in there, a manager, or a device bound to it (the domain's
    ``windows.may_act_for``, checked again inside each change's transaction); "device": a device
    bound to it (its rating tablet, its keypads' gateway).
    """
    if rule == "device":
        check_bound(actor, number)
        return
    authorize_actor(actor, console_reads.window_row(state, number))


# -- bodies and errors -----------------------------------------------------------------

class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


def invalid_fields(problems: list[Problem]) -> BadRequest:
    """400 ``invalid_fields`` listing every ``(field, problem)``."""
    listed = {lang: text("common.separator.clauses", lang).join(
                  text("error.invalid_fields.item", lang, field=p, problem=m) for p, m in problems)
              for lang in languages()}
    err = BadRequest("error.invalid_fields", problems=listed, code="invalid_fields")
    err.fields = [{"field": p, "problem": m} for p, m in problems]
    return err


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def parse_body(schema: Obj) -> dict[str, Any]:
    """The request's JSON body, checked (:mod:`queue_server.api.inputs`) and validated against ``schema``.

    An empty body is ``{}``. Refused: a body over the size limit (413), one declared as anything but
    JSON (415), one that is not UTF-8 JSON or nests too deep (400 ``malformed_json``), and one with a
    bad value anywhere, even where ``schema`` takes any (400 ``invalid_fields``, every field listed).
    """
    raw = request.get_data(cache=False)  # werkzeug refuses more than MAX_CONTENT_LENGTH (413)
    return parse_json(raw, request.mimetype, schema)


def parse_json(raw: bytes, mimetype: str, schema: Obj) -> dict[str, Any]:
    """:func:`parse_body` of a body already read (``mimetype``: its Content-Type, lower case, no parameters)."""
    if not raw.strip():
        data: Any = {}
    else:
        if mimetype and not _is_json(mimetype):
            raise UnsupportedMediaType("error.json.media_type", mimetype=printable(mimetype)[:100],
                                       code="unsupported_media_type")
        try:
            data = load_json(raw)
            problems = value_problems(data)
        except Malformed as e:
            raise BadRequest(e.key, code="malformed_json", **e.params) from None
        if problems:
            raise invalid_fields(problems)
    problems = schema.validate(data)
    if problems:
        raise invalid_fields(problems)
    return data


class UriTooLong(DomainError):
    status = 414
    code = "uri_too_long"


def check_parameters() -> None:
    """Refuse a query or path parameter that is not text: bytes that are not UTF-8 (werkzeug would quietly
    turn them into U+FFFD), a NUL, a lone surrogate; 400 naming each. A query string over
    :data:`MAX_QUERY` bytes is 414."""
    if len(request.query_string) > MAX_QUERY:
        raise UriTooLong("error.query.too_long", limit=MAX_QUERY)
    problems: list[Problem] = []
    path_is_utf8 = _is_utf8(request.environ.get("PATH_INFO", "").encode("latin-1", "replace"))
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            if not path_is_utf8 and "\ufffd" in value:
                problems.append((name, "is not UTF-8 text"))
            elif problem := text_problem(value):
                problems.append((name, problem))
    for raw_name, raw_value in parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True,
                                         encoding="latin-1"):
        name, value = raw_name.encode("latin-1"), raw_value.encode("latin-1")
        if not (_is_utf8(name) and _is_utf8(value)):
            problems.append((printable(name.decode("utf-8", "replace")), "is not UTF-8 text"))
        elif problem := text_problem(name.decode()) or text_problem(value.decode()):
            problems.append((printable(name.decode()), problem))
    if problems:
        raise invalid_fields(problems)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")  # strict: refuses encoded surrogates (ED A0 80) and overlong forms (C0 AF)
    except UnicodeDecodeError:
        return False
    return True


def header_text(name: str, max_len: int) -> str | None:
    """A request header the API reads, or None: at most ``max_len`` printable ASCII characters, else 400.

    (Granian drops a header whose value has 8-bit bytes before the application sees it; under
    another server they would arrive as Latin-1 text and be refused here.)
    """
    value = request.headers.get(name)
    if value is not None and (len(value) > max_len or not (value.isascii() and value.isprintable())):
        raise invalid_fields([(name, f"must be at most {max_len} printable ASCII characters")])
    return value


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header: 1 to 100 visible ASCII characters (a UUID is typical), else 400."""
    return checked_idempotency_key(request.headers.get("Idempotency-Key"))


def checked_idempotency_key(key: str | None) -> str | None:
    """:func:`idempotency_key` of a header's value."""
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise invalid_fields([("Idempotency-Key", "must be 1 to 100 printable ASCII characters")])
    return key


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = parse_int(raw)
    if value is None or not lo <= value <= hi:
        err = BadRequest("error.query.integer_range", name=name, lo=lo, hi=hi, code="invalid_fields")
        err.fields = [{"field": name, "problem": f"must be an integer from {lo} to {hi}"}]
        raise err
    return value


def error_response(status: int, code: str, messages: dict[str, str], fields: list | None = None,
                   detail: dict | None = None, headers: dict | None = None) -> Response:
    lang = request_lang()
    body = {"error": {"status": status, "code": code, "message": messages.get(lang) or messages.get("en", ""),
                      "messages": {k: messages.get(k, messages.get("en", "")) for k in LANGS},
                      "fields": fields or [], "detail": detail or {}}}
    resp = jsonify(_printable(body))
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _printable(value: Any) -> Any:
    """``value`` with every string fit to encode: an error may echo what the request sent."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    return value


# what the HTTP layer refuses before a view runs (werkzeug's exceptions): the code, its message error.http.<code>
HTTP_ERRORS = {400: "bad_request", 404: "no_such_endpoint", 405: "method_not_allowed", 408: "request_timeout",
               411: "length_required", 413: "too_large", 414: "uri_too_long", 415: "unsupported_media_type",
               431: "headers_too_large"}


def install_error_handlers(app) -> None:
    """One error shape for every error under /api (and JSON 404/405 there); and every answer, refusal or not,
    leaves the connection usable or says it is not (:func:`finish_body`)."""

    app.after_request(finish_body)  # queue_server/api/keepalive.py

    @app.errorhandler(DomainError)
    def _domain(e: DomainError):
        if e.status >= 500:
            log.error("%s: %s", e.code, e)
        return error_response(e.status, e.code, e.messages, getattr(e, "fields", None), e.detail)

    @app.errorhandler(DatabaseBusy)
    def _busy(e: DatabaseBusy):
        log.error("database busy: %s", e)
        return error_response(503, "busy", messages("error.busy"), headers={"Retry-After": "1"})

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
        return error_response(507, "storage_full", messages("error.storage_full"), headers={"Retry-After": "60"})

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if not request.path.startswith("/api/"):
            return e
        status = e.code or 400
        if status >= 500:
            # Flask's InternalServerError: an error handler itself failed (e.g. it could not encode what it
            # echoed), so the cause is the exception it wraps. A bug, reported as one.
            cause = getattr(e, "original_exception", None) or e
            log.error("unhandled error on %s %s", request.method, request.path,
                      exc_info=(type(cause), cause, cause.__traceback__))
            return error_response(500, "internal_error", messages("error.internal"))
        code = HTTP_ERRORS.get(status) or HTTP_ERRORS[400]
        said = messages(f"error.http.{code}", path=request.path[:200], method=request.method[:20])
        return error_response(status, code, said,
                              headers={"Allow": ", ".join(e.valid_methods)} if getattr(e, "valid_methods", None) else None)

    @app.errorhandler(Exception)
    def _crash(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", messages("error.internal"))

