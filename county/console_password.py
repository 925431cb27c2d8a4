"""The console's page where an account changes its own password (county/passwords.py): ``/console/password``.

Any signed-in account reaches it from the menu; one whose password is temporary or older than
``[security] password_max_age_days`` is sent here from every other page until it has changed it. The form asks
for the current password, the new one and the new one again, carries the session's CSRF token, and says why a
password is refused in the halls' words.
"""

from __future__ import annotations

from flask import Blueprint, g, request

from county import passwords, signin
from county.console_web import _ext, page, render, t, throttled_message
from hallq.passwords import MIN_PASSWORD

bp = Blueprint("county_password", __name__)  # registered by county/app.py beside the console's


@bp.get("/console/password")
@page
def password_form(who):
    return render("county/password.html", must=who["must_change_password"])


@bp.post("/console/password")
@page
def password_post(who):
    current, new = request.form.get("current", ""), request.form.get("new", "")
    if not current or not new or len(current) > 200 or len(new) > 200:
        return _again(who, 400, t("county.password.fill_in"))
    if new != request.form.get("repeat", ""):
        return _again(who, 400, t("county.password.mismatch"))
    cfg, client = _ext()["cfg"], _ext()["client_of"](request)
    try:
        passwords.change(_ext()["conn"](), cfg.security, client, who["username"], g.token, current, new)
    except passwords.Refused as e:
        if e.reason:
            return _again(who, e.status, t(passwords.REASON_TEXTS[e.reason], min_length=MIN_PASSWORD))
        return _again(who, e.status, t("county.password.wrong_current"))
    except signin.Busy:
        resp = _again(who, 503, t("error.sign_in_busy"))
        resp.headers["Retry-After"] = "1"
        return resp
    except signin.Throttled as e:
        resp = _again(who, 429, throttled_message(e.seconds))
        resp.headers["Retry-After"] = str(e.seconds)
        return resp
    return render("county/password.html", must=False, done=True)


def _again(who, status: int, message: str):
    return render("county/password.html", status, must=who["must_change_password"], error=message)
