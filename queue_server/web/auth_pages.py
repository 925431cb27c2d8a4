"""Signing in and out of the consoles, and changing one's password.

This blueprint also serves the consoles' static files (``/static/web/…``).
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, make_response, redirect, request, url_for

from queue_server import http_common as sessions
from queue_server.domain.errors import DomainError
from queue_server.web.pages import install_page_headers, lang, must_change_password, page, render, state, t

bp = Blueprint("auth_pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")
install_page_headers(bp)

HOME = {"staff": "window_console.pick_window", "manager": "manager.hall", "admin": "manager.hall"}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this server (no scheme, no host, no //): an open redirect helps phishing."""
    if not target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # "//[": not even a URL (an unclosed IPv6 host); before, a 500 after the session was made
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.get("/console/login")
def login_form(error: str | None = None, status: int = 200, job_no: str = ""):
    token = sessions.new_login_csrf()
    resp = make_response(render("console/login.html", error=error, login_csrf=token, job_no=job_no,
                                next=_safe_next(request.args.get("next") or request.form.get("next")) or ""), status)
    resp.set_cookie(sessions.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                    secure=sessions.cookie_is_secure(), path="/console/login", max_age=3600)
    return resp


@bp.post("/console/login")
def login():
    sent, expected = request.form.get("csrf_token", ""), request.cookies.get(sessions.LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return login_form(error=t("web.login.page_expired"), status=403)
    job_no = request.form.get("job_no", "").strip()[:16]
    password = request.form.get("password", "")[:200]
    try:
        result = state().service.accounts.login(job_no, password, client=sessions.client_ip(), console=True)
    except DomainError as e:
        resp = login_form(error=e.messages.get(lang()) or e.messages["zh-Hans"], status=e.status, job_no=job_no)
        if "retry_after_seconds" in e.detail:  # 429 while this client must wait, 503 while it is busy
            resp.headers["Retry-After"] = str(e.detail["retry_after_seconds"])
        return resp
    role = result["staff"]["role"]
    target = _safe_next(request.form.get("next")) or url_for(HOME[role])
    resp = redirect(target, 303)
    sessions.set_session_cookie(resp, result["token"], result["expires_at"])
    resp.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path="/console/login")
    return resp


@bp.post("/console/logout")
@page("staff", allow_password_change=True)
def logout(actor):
    token = sessions.session_token()
    if token:
        state().service.accounts.sign_out(actor, token, journaled=True)
    resp = redirect(url_for("auth_pages.login_form"), 303)
    sessions.clear_session_cookie(resp)
    return resp


@bp.get("/console/password")
@page("staff", allow_password_change=True)
def password_form(actor, error: str | None = None, done: bool = False, status: int = 200):
    return render("console/password.html", error=error, done=done, forced=must_change_password(actor)), status


@bp.post("/console/password")
@page("staff", allow_password_change=True)
def change_password(actor):
    new, again = request.form.get("new", ""), request.form.get("again", "")
    if new != again:
        return password_form(error=t("web.password.new_passwords_differ"), status=422)
    try:
        state().service.accounts.change_own_password(  # this session stays
            actor, request.form.get("current", ""), new, sessions.session_token(), sessions.client_ip())
    except DomainError as e:
        # a wrong current password is a mistake in the form (422), not a refused session (401)
        return password_form(error=e.messages.get(lang()) or e.messages["zh-Hans"], status=422 if e.status == 401 else e.status)
    return password_form(done=True)


@bp.get("/console/")
def home():
    actor = sessions.cookie_actor()
    if actor is None:
        return redirect(url_for("auth_pages.login_form"))
    return redirect(url_for(HOME.get(actor.role, "window_console.pick_window")))

