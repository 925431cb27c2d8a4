"""The resident's phone page for a ticket: ``GET /t/<public_id>`` (the QR code on the ticket).

What it shows: the number, the business, the people ahead and the estimated
wait, and the call itself ("请到 3 号窗口"). The first view is rendered here,
so it works without JavaScript (it then reloads itself every 20 s); with
JavaScript the page polls ``GET /api/v1/tickets/<id>`` every few seconds
(short requests only: a hall server has few threads) and alerts the resident
with a banner, a vibration and a short tone made with WebAudio when the turn
is near (≤ 2 ahead) and when the number is called.

Everything is served by the hall's own server: no CDN, no web fonts, nothing
from outside, so it works on the hall's Wi-Fi without internet. The page
carries no personal data: the ticket view never has any (see tickets.py).

Polling is cheap on the wire: the ticket API answers with an ETag and a 304
when nothing changed (:func:`_conditional_ticket`).
"""

from __future__ import annotations

from hallq.waits import WIDE_MINUTES, shown

from typing import Any

from flask import Blueprint, current_app, make_response, render_template, request

from hallq.clock import iso
from hallq.i18n import LANGS, pick, text
from queue_server.domain.errors import NotFound
from queue_server.http_common import request_lang
from queue_server.web.pages import script_json
from queue_server.web.ratings_pages import REASONS

bp = Blueprint("ticket_page", __name__, template_folder="templates", static_folder="static/ticket",
               static_url_path="/t/static")

LANG_COOKIE = "hallq_lang"
NEAR = 2  # "快到您了" when this many or fewer are ahead

# every text of the page (hallq/locale/<lang>/web.po); the page and its script (static/ticket/ticket.js)
# know each by its last part ("ahead"); {placeholders} are filled by the page
TEXTS = ("web.ticket.title", "web.ticket.ahead", "web.ticket.ahead_none", "web.ticket.wait",
         "web.ticket.wait_range", "web.ticket.wait_unknown", "web.ticket.waiting", "web.ticket.near",
         "web.ticket.called", "web.ticket.called_detail", "web.ticket.serving", "web.ticket.held",
         "web.ticket.done", "web.ticket.no_show", "web.ticket.no_show_detail", "web.ticket.cancelled",
         "web.ticket.expired", "web.ticket.enable_alerts", "web.ticket.alerts_on", "web.ticket.updated",
         "web.ticket.offline", "web.ticket.gone", "web.ticket.gone_detail", "web.ticket.class_green",
         "web.ticket.class_appointment", "web.ticket.noscript", "web.ticket.issued", "web.ticket.rate_prompt",
         "web.ticket.rated", "web.rate.very_satisfied", "web.rate.satisfied", "web.rate.basically_satisfied",
         "web.rate.dissatisfied", "web.rate.very_dissatisfied", "web.rate.what_went_wrong", "web.rate.send_my_rating",
         "web.rate.comment_label", "web.rate.thanks", "web.rate.already_rated", "web.rate.rating",
         "web.rate.contact_label", "web.ticket.leave", "web.ticket.leave_sure", "web.ticket.leave_yes",
         "web.ticket.leave_no", "web.ticket.left")


# 就近办 (queue_server/nearby.py): other halls of the county for the same business, when the wait here is long
NEARBY_TEXTS = ("web.ticket.nearby_title", "web.ticket.nearby_intro", "web.ticket.nearby_distance",
                "web.ticket.nearby_wait", "web.ticket.nearby_waiting", "web.ticket.nearby_open",
                "web.ticket.nearby_closed")


def nearby_halls(st, view: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """The nearby halls to show under a waiting ticket whose estimated wait reaches the hall's threshold
    (``show_after_minutes``); none without a county platform or a fresh answer from it."""
    cache = st.nearby
    if cache is None or view.get("state") != "waiting":
        return []
    threshold, est = cache.link.show_after_minutes, view.get("est_wait_minutes")
    if threshold and (est is None or est < threshold):
        return []
    out = []
    for h in cache.halls(view.get("business", ""))["halls"]:
        n, m, km = h.get("waiting", 0), h.get("est_wait_minutes"), h.get("distance_km")
        out.append({
            "name": pick(h.get("name") or h.get("site", ""), lang), "address": h.get("address") or "",
            "distance": "" if km is None else text("web.ticket.nearby_distance", lang, km=km),
            "wait": text("web.ticket.nearby_wait", lang, n=n, m=m) if m is not None
            else text("web.ticket.nearby_waiting", lang, n=n),
            "open": text("web.ticket.nearby_open" if h.get("open_now") else "web.ticket.nearby_closed", lang),
            "is_open": bool(h.get("open_now"))})
    return out


def _lang() -> str:
    """?lang=, else the language chosen before (cookie), else the browser's, as the consoles do."""
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    saved = request.cookies.get(LANG_COOKIE)
    return saved if saved in LANGS else request_lang()


def _rated(st, public_id: str) -> bool:
    """Whether this ticket's service was rated already (at the window's tablet or pad, or from this page)."""
    from queue_server.readmodel.consoles import ticket_rated

    return ticket_rated(st, public_id)


def texts_for(lang: str) -> dict[str, str]:
    """The page's texts in ``lang``: ``{"ahead": "前面还有 {n} 人", ...}``."""
    out = {key.rsplit(".", 1)[1]: text(key, lang) for key in TEXTS}
    out.update({f"reason_{code}": text(key, lang) for code, key in REASONS.items()})
    return out


def describe(view: dict[str, Any], texts: dict[str, str], grace: int) -> dict[str, Any]:
    """The headline, the detail line and the alert level of a ticket (the no-JavaScript view).

    ``static/ticket/ticket.js`` mirrors this function for live updates.
    """
    state, w = view["state"], view.get("window")
    ahead, minutes = view.get("people_ahead"), view.get("est_wait_minutes")
    if state == "waiting":
        head = texts["ahead"].format(n=ahead) if ahead else texts["ahead_none"]
        w = shown(minutes, view.get("est_wait_range"))
        detail = texts["wait_unknown"] if w is None else texts["wait"].format(m=w[0]) if w[0] == w[1] else \
            texts["wait_range"].format(lo=w[0], hi=w[1])
        return {"head": head, "detail": detail, "level": "near" if ahead is not None and ahead <= NEAR else "wait"}
    if state == "called":
        return {"head": texts["called"].format(w=w), "detail": texts["called_detail"].format(t=view["ticket"]),
                "level": "called"}
    if state in ("serving", "held"):
        return {"head": texts[state].format(w=w), "detail": "", "level": state}
    if state == "no_show":
        return {"head": texts["no_show"], "detail": texts["no_show_detail"].format(g=grace), "level": "ended"}
    return {"head": texts.get(state, state), "detail": "", "level": "ended"}


@bp.get("/t/<public_id>")
def ticket_page(public_id: str):
    """The live page of one ticket (opened from the QR code printed on it)."""
    st = current_app.extensions["hallq"]
    lang = _lang()
    cfg = st.hall.config
    texts = texts_for(lang)
    # a bad review may leave a phone for the call-back (回访), kept only with this consent (docs/privacy.md)
    texts["contact_consent"] = text("web.rate.contact_consent", lang, days=cfg.privacy.followup_contact_days)
    try:
        view = st.service.ticket(public_id)
    except NotFound:
        resp = make_response(render_template("ticket/gone.html", lang=lang, texts=texts,
                                             hall=pick(cfg.name, lang), langs=LANGS), 404)
        return _secure(resp)
    grace = cfg.queue.no_show_grace_minutes
    # the hall's clock (virtual in a demo or a simulation) as the page loads, and its pace: "更新于" follows it,
    # as the ticket's own times do, not the phone's clock
    clock = st.hall.clock
    data = {"id": view["id"], "api": f"/api/v1/tickets/{view['id']}", "lang": lang, "texts": texts,
            "near": NEAR, "wide": WIDE_MINUTES, "grace": grace, "timezone": cfg.timezone, "ticket": view,
            "now": iso(clock.now()), "rate": getattr(clock, "rate", 1), "rated": _rated(st, view["id"]),
            "rate_api": "/api/v1/ratings", "reasons": list(REASONS), "cancel_api": f"/api/v1/tickets/{view['id']}/cancel"}
    resp = make_response(render_template(
        "ticket/page.html", lang=lang, texts=texts, view=view, hall=pick(cfg.name, lang),
        business=pick(view["business_name"], lang), state=describe(view, texts, grace), langs=LANGS,
        data=script_json(data), issued=view["issued_at"][11:16],
        rated=data["rated"] and view["state"] == "done", reasons=list(REASONS),
        nearby=nearby_halls(st, view, lang), nearby_texts={k.rsplit(".", 1)[1]: text(k, lang) for k in NEARBY_TEXTS}))
    if request.args.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax")
    return _secure(resp)


def _secure(resp):
    # the page's address is the ticket's only key: never leak it in a Referer
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                               "form-action 'self'; frame-ancestors 'none'")
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.after_app_request
def _conditional_ticket(resp):
    """ETag + 304 for ``GET /api/v1/tickets/<id>``: phones poll it, and most polls change nothing."""
    if request.endpoint == "api.get_ticket" and request.method == "GET" and resp.status_code == 200:
        resp.add_etag()
        resp.headers["Cache-Control"] = "no-cache"
        resp.make_conditional(request)
    return resp
