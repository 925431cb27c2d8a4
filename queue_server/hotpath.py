"""The hot path: ``POST /api/v1/tickets`` and ``POST /api/v1/windows/<n>/call-next`` without Flask's
per-request machinery (issue 16 item 2).

Taking a number and calling the next one are what a hall does most, and half of a request's server
CPU went to the framework around the work: a request context, URL matching, the hooks, a response
object (profiled in docs/performance.md, "Where a ticket's CPU goes"). This WSGI layer, in front of
the Flask app, answers the plainest form of those two requests itself, through the very same steps
as their routes (queue_server/api/tickets.py, windows.py): the same door (``api.bearer_actor`` and
``api.admit`` under the operation's own rule, the window's included), the same body checks
(``api.parse_json`` against the operation's schema), the same Idempotency-Key check, the same
``QueueService`` transaction, the same JSON. It holds no rule of its own.

Only a request that needs nothing else is taken: ``POST`` to exactly such a path, no query string,
a bearer token and no cookie (a console's session goes through CSRF checks), a JSON body of known
length up to :data:`MAX_BODY`. Everything else, and every refusal, goes to Flask: a refusal is
rendered by the app's own error handlers in a request context, so it has the one error shape.
``tests/queue_server/test_hotpath.py`` checks that the answers are the same both ways.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import HTTP_STATUS_CODES

from queue_server import api
from queue_server.api.keepalive import BODY_READ, KNOWN_CALLER
from queue_server.domain.service import Answer
from queue_server.readmodel.settings import sync as sync_settings

MAX_BODY = 8192  # bytes; a kiosk's or a window's body is under 200, larger ones go the general way (and its 413)
# the hooks the general way runs for these requests; the hot path runs the same (test_hotpath checks the list)
KNOWN_BEFORE = {None: ("_sync_settings",), "api": ("_limit_body",)}
# _conditional_ticket: GET /tickets/<id> only, nothing to do for a POST; finish_body: nothing to do once the body
# was read, as the hot path's answer always has it (its refusals are finalized by the app, this hook included)
KNOWN_AFTER = {None: ("_conditional_ticket", "finish_body")}
WINDOW_PATH = re.compile(r"/api/v1/windows/([1-9][0-9]{0,5})/call-next")  # what the <int:number> route takes

StartResponse = Callable[..., Any]


def _issue_ticket(state, actor, body: dict[str, Any], key, path: dict[str, Any]) -> dict[str, Any]:
    """queue_server/api/tickets.py's issue_ticket."""
    return state.service.issue_ticket(
        actor, body["business"], item=body.get("item"), id_number=body.get("id_number"), phone=body.get("phone"),
        green_reason=body.get("green_reason"), request=key)


def _call_next(state, actor, body: dict[str, Any], key, path: dict[str, Any]) -> dict[str, Any]:
    """queue_server/api/windows.py's call_next, the window's rule of the door checked first in its transaction."""
    return state.service.call_next(actor, path["number"], bool(body.get("complete_current")), request=key,
                                   window_door=True)


class HotPath:
    def __init__(self, app, wsgi_app) -> None:
        self.app = app
        self.wsgi_app = wsgi_app  # the general way: Flask
        self.issue = (api.OPERATIONS["issue_ticket"], _issue_ticket)
        self.call = (api.OPERATIONS["call_next"], _call_next)
        self.window_in_transaction = {_call_next}  # handlers that check the window's rule of the door themselves

    def __call__(self, environ: dict[str, Any], start_response: StartResponse):
        taken = self._eligible(environ)
        if taken is None:
            return self.wsgi_app(environ, start_response)
        (op, handler), path, length = taken
        try:
            body = self._answer(environ, op, handler, path, length)
        except Exception as e:  # every refusal and failure is the app's to answer
            return self._refusal(environ, start_response, e)
        start_response(f"{op.status} {HTTP_STATUS_CODES[op.status].upper()}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _eligible(self, environ: dict[str, Any]) -> tuple[tuple, dict[str, Any], int] | None:
        """What the request is, with its path's parameters and its body's length, when it is one of the
        plain requests the hot path takes; else None."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING") or "HTTP_COOKIE" in environ \
                or "HTTP_TRANSFER_ENCODING" in environ or not environ.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
            return None
        where = environ.get("PATH_INFO", "")
        if where == "/api/v1/tickets":
            route, path = self.issue, {}
        elif (m := WINDOW_PATH.fullmatch(where)) is not None:
            route, path = self.call, {"number": int(m.group(1))}
        else:
            return None
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not (length.isascii() and length.isdigit()) or not 0 < int(length) <= MAX_BODY:
            return None
        return route, path, int(length)

    def _answer(self, environ: dict[str, Any], op, handler, path: dict[str, Any], length: int) -> bytes:
        """What the operation's route does (queue_server/api/__init__.py, ``operation``), step by step."""
        state = self.app.extensions["hallq"]
        sync_settings(state)  # the app's before-request hook (_sync_settings)
        # a window's rule (who may act there) is checked by the handler's transaction, on the row it acts on,
        # before a retry is answered; a request refused before that gets the door's refusal first, as at the door
        deferred = handler in self.window_in_transaction
        caller = api.bearer_actor(state, api.bearer_token(environ["HTTP_AUTHORIZATION"]))
        environ[KNOWN_CALLER] = True  # a refusal from here on reads the body it left (keepalive.py)
        actor = api.admit(state, op, caller, None if deferred else path)
        try:
            key = api.checked_idempotency_key(environ.get("HTTP_IDEMPOTENCY_KEY"))
            raw = environ["wsgi.input"].read(length)
            environ[BODY_READ] = True
            if len(raw) != length:
                raise ClientDisconnected()  # what werkzeug's stream raises on a body cut short (400)
            body = api.parse_json(raw, "application/json", op.body)
        except Exception:
            if deferred:
                api.admit_window(state, op, actor, path)
            raise
        result = handler(state, actor, body, (actor.label, key) if key else None, path)
        # an answer remembered for its key carries the same JSON as its text: not encoded twice
        text = result.text if isinstance(result, Answer) else self.app.json.dumps(result, separators=(',', ':'))
        return f"{text}\n".encode()

    def _refusal(self, environ: dict[str, Any], start_response: StartResponse, error: Exception):
        """The app's own answer to ``error``, as if the route had raised it."""
        app = self.app
        with app.request_context(environ):
            try:
                response = app.finalize_request(app.handle_user_exception(error))
            except Exception as e:  # a handler itself failed: what Flask then does (a 500, finalized)
                response = app.handle_exception(e)
            return response(environ, start_response)
