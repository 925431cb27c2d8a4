"""What every console page shares: language, who is signed in, role checks, headers.

A page view is declared with :func:`page`::

    @bp.get("/manager/hall")
    @page("manager")
    def hall(actor): ...

which sends someone not signed in to the sign-in page, answers 403 to a
role that may not see it, and renders a domain refusal as a plain sentence
in the page's language instead of the API's JSON.

Texts come from the catalogues by key (``hallq/locale/<lang>/web.po``):
templates call ``t("web.common.call_next")`` or ``t("web.window.called_ticket",
ticket=n)``; a page's scripts get the texts they use from a JSON block that
:func:`scripts` renders, and call ``t("web.window.called_ticket", {ticket: n})``. The language
comes from ``?lang=``, then the ``hallq_lang`` cookie, then the browser's
Accept-Language.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from flask import (Response, current_app, g, make_response, redirect, render_template, request, url_for)
from markupsafe import Markup, escape

from hallq import __version__
from hallq import i18n
from hallq.i18n import LANGS, pick
from queue_server import http_common as sessions
from queue_server.domain.context import Actor
from queue_server.domain.errors import DomainError
from queue_server.readmodel import consoles as console_reads

ROLES = {"staff": ("staff", "manager", "admin"), "manager": ("manager", "admin"), "admin": ("admin",)}
LANG_COOKIE = "hallq_lang"
STATIC = Path(__file__).resolve().parent / "static"
TEMPLATES = Path(__file__).resolve().parent / "templates"

# no inline script, no third-party origin: a hall LAN may have no internet, and nothing foreign runs here
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def state():
    return current_app.extensions["hallq"]


def lang() -> str:
    if "lang" not in g:
        wanted = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
        if wanted not in LANGS:
            wanted = sessions.request_lang()
        g.lang = wanted
    return g.lang


def t(key: str, /, **params: Any) -> str:
    """The message ``key`` (``web.…``) in the page's language, its ``{fields}`` filled from ``params``."""
    return i18n.text(key, lang(), **params)


def texts(value) -> str:
    """A stored three-language text (JSON string or dict) in the page's language."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return pick(value, lang())


def must_change_password(actor: Actor) -> bool:
    """The page-side of the rule the API's door applies too (``domain.accounts.must_change_password``)."""
    return console_reads.must_change_password(state(), actor.staff_id)


def page(role: str = "staff", allow_password_change: bool = False) -> Callable:
    """Declare a console page open to ``role`` (staff ⊂ manager ⊂ admin) and above."""
    allowed = ROLES[role]

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(*args: Any, **kwargs: Any):
            try:
                actor = sessions.cookie_actor()  # CSRF-checked for POSTs
            except DomainError as e:
                return error_page(e.status, e.messages)
            if actor is None:
                if request.method not in sessions.SAFE_METHODS:
                    return error_page(401, t("web.error.session_ended"))
                return redirect(url_for("auth_pages.login_form", next=request.full_path.rstrip("?")))
            g.page_actor = actor
            if actor.role not in allowed:
                return error_page(403, t("web.error.not_allowed_here"))
            if not allow_password_change and must_change_password(actor):
                return redirect(url_for("auth_pages.password_form"))
            try:
                return fn(*args, actor=actor, **kwargs)
            except DomainError as e:
                return error_page(e.status, e.messages)

        view.page_role = role
        return view

    return deco


def error_page(status: int, messages: dict[str, str] | str) -> Response:
    resp = make_response(render("console/error.html", status=status, message=pick(messages, lang())), status)
    return resp


def asset(path: str) -> str:
    """URL of a static file with a version stamp, so a new release is never served from a stale cache."""
    try:
        stamp = int(os.stat(STATIC / path).st_mtime)
    except OSError:
        stamp = 0
    return url_for("auth_pages.static", filename=path, v=f"{__version__}.{stamp}")


def script_json(data: Any) -> str:
    """``data`` as JSON to stand inside a ``<script>`` element: no ``<`` or ``>`` in it, so no text in it (a
    business's name: ``<!--<script``) can end the element or put the HTML parser in a state that swallows the
    next one."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def _json_block(block_id: str, data: Any) -> Markup:
    """A JSON data block (CSP forbids inline scripts, not data: a non-JavaScript type is never run)."""
    return Markup(f'<script type="application/json" id="{block_id}">{script_json(data)}</script>')


def page_data(data: dict[str, Any]) -> Markup:
    """Data for the page's script, as a JSON block."""
    return _json_block("page-data", data)


COMMON_SCRIPT = "console/common.js"
_KEY = re.compile(r"""["'](web\.[A-Za-z0-9_.]+)["']""")


@functools.lru_cache(maxsize=64)
def _script_keys(path: str, stamp: float) -> tuple[str, ...]:
    return tuple(sorted(set(_KEY.findall((STATIC / path).read_text(encoding="utf-8")))))


def script_keys(path: str) -> tuple[str, ...]:
    """The message keys (``"web.…"`` literals) a script under static/ uses."""
    return _script_keys(path, os.stat(STATIC / path).st_mtime)


def scripts(*paths: str) -> Markup:
    """The page's scripts, common.js first, after a block of the texts they use in the page's language.

    ``{{ scripts("console/window.js") }}`` in a template; the scripts look their texts up in the block.
    """
    files = (COMMON_SCRIPT, *paths)
    here = lang()
    keys = sorted({key for path in files for key in script_keys(path)})
    tags = [_json_block("messages", {key: i18n.text(key, here) for key in keys})]
    tags += [f'<script src="{escape(asset(path))}"></script>' for path in files]
    return Markup("\n".join(tags))


def render(template: str, **ctx: Any) -> str:
    st = state()
    actor = g.get("page_actor")
    token = sessions.session_token()
    cfg = st.hall.config
    return render_template(
        template, t=t, texts=texts, lang=lang(), langs=LANGS, actor=actor, asset=asset, page_data=page_data, scripts=scripts,
        csrf=sessions.csrf_for(token) if token and actor else "", hall_name=pick(cfg.name, lang()),
        now=st.hall.now(), here=request.path, quote=quote, **ctx)


def install_page_headers(bp) -> None:
    """Security headers and the language cookie on every page of ``bp``."""

    @bp.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Cache-Control", "no-store")
        wanted = request.args.get("lang")
        if wanted in LANGS and wanted != request.cookies.get(LANG_COOKIE):
            resp.set_cookie(LANG_COOKIE, wanted, max_age=365 * 86400, samesite="Strict", httponly=True)
        return resp


def lang_url(code: str) -> str:
    args = request.args.to_dict()
    args["lang"] = code
    return request.path + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in args.items())
