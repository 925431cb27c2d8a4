"""What the JSON API and the console pages both need of a request: the session, the client, the language.

Neither ``queue_server.api`` nor ``queue_server.web`` imports the other; what they share is here.

Browser sessions for the consoles: a cookie, CSRF tokens, the client's address.

* A browser signs in with the same :func:`queue_server.auth.login` as the
  API and keeps the session token in a cookie: ``HttpOnly`` (no script can
  read it), ``SameSite=Strict`` (no other site's page can send it), and
  ``Secure`` whenever the console is served over HTTPS or on the machine
  itself (see docs/security.md for a hall LAN on plain HTTP).
* Every state-changing request made with that cookie, a form post or a
  ``fetch``, must carry the session's CSRF token (``X-CSRF-Token`` header or
  ``csrf_token`` field): an HMAC of the session token under the hall's
  secret, so it needs no storage and dies with the session. A request whose
  ``Origin`` names another site is refused as well.
* The JSON API accepts the cookie too (see ``queue_server.api._authenticate``):
  the consoles' scripts call the very endpoints the call keypads use.
* Sign-ins are throttled by client address, and by client address and
  account (``queue_server.domain.throttles``); the address is the peer's, or
  behind a trusted reverse proxy the forwarded one (``queue_server.clients``).
* A console session ends after ``[security] session_idle_minutes`` without a
  request of the person's own: the pages' background refreshes send
  ``X-Hallq-Background: 1`` and do not keep it alive (``queue_server.auth``).

The language of an answer: :func:`request_lang` (the API's errors; the pages ask
``?lang=`` and their cookie first).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from flask import current_app, g, request

from hallq.webguard import foreign_origin
from queue_server.auth import actor_for_token
from queue_server.clients import request_client
from queue_server.domain.context import Actor
from queue_server.domain.errors import Forbidden

COOKIE = "hallq_session"
LOGIN_CSRF_COOKIE = "hallq_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
BACKGROUND_HEADER = "X-Hallq-Background"  # a page's own refresh, not the person using it
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _state():
    return current_app.extensions["hallq"]


# -- the cookie ----------------------------------------------------------------------

def session_token() -> str | None:
    value = request.cookies.get(COOKIE, "")
    return value if 20 <= len(value) <= 100 else None


def csrf_for(token: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of its token under a key derived from the hall's secret."""
    key = hmac.new(_state().hall.secret, b"hallq console csrf v1", hashlib.sha256).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:40]


def cookie_is_secure() -> bool:
    """Mark the cookie ``Secure`` on HTTPS, and on loopback (browsers treat it as a secure context)."""
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    public = _state().hall.config.public_url
    return request.is_secure or public.startswith("https://") or host in ("localhost", "127.0.0.1", "::1")


def set_session_cookie(resp, token: str, expires_at: str) -> None:
    # Max-Age, not Expires: the hall may run on a virtual clock far from the browser's
    seconds = int((datetime.fromisoformat(expires_at) - _state().hall.now()).total_seconds())
    resp.set_cookie(COOKIE, token, max_age=max(seconds, 60), httponly=True, samesite="Strict",
                    secure=cookie_is_secure(), path="/")


def clear_session_cookie(resp) -> None:
    resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=cookie_is_secure())


def _check_origin() -> None:
    if foreign_origin(request.headers.get("Origin"), request.host):
        raise Forbidden("error.bad_origin", code="bad_origin")


def check_csrf(token: str) -> None:
    """Refuse a state-changing request made with the session cookie but without its CSRF token."""
    _check_origin()
    sent = request.headers.get(CSRF_HEADER) or (request.form.get("csrf_token") if request.form else None) or ""
    if not hmac.compare_digest(sent.encode(), csrf_for(token).encode()):
        raise Forbidden("error.csrf_failed", code="csrf_failed")


def cookie_actor() -> Actor | None:
    """The staff member of the request's session cookie (CSRF-checked for changes), or None.

    Only staff sessions count: a device key put in a cookie is ignored.
    """
    if "cookie_actor" in g:
        actor = g.cookie_actor
    else:
        token = session_token()
        actor = None
        if token:
            st = _state()
            found = actor_for_token(st.db, st.hall, token, activity=request.headers.get(BACKGROUND_HEADER) != "1")
            actor = found if found is not None and found.kind == "staff" else None
        g.cookie_actor = actor
    if actor is not None and request.method not in SAFE_METHODS:
        check_csrf(session_token() or "")
    return actor


# -- the client --------------------------------------------------------------------------

def client_ip() -> str:
    """The address sign-ins are counted by: the peer's, or through a trusted proxy the client's."""
    return request_client()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


# -- the language ------------------------------------------------------------------------

def request_lang() -> str:
    """The language the request's Accept-Language prefers among ours (Simplified Chinese by default)."""
    best = request.accept_languages.best_match(["zh-Hans", "zh-CN", "zh", "zh-Hant", "zh-TW", "zh-HK", "en"])
    if best in ("zh-Hant", "zh-TW", "zh-HK"):
        return "zh-Hant"
    if best == "en":
        return "en"
    return "zh-Hans"

