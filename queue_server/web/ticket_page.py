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

import json
from typing import Any

from flask import Blueprint, current_app, make_response, render_template, request

from hallq.i18n import LANGS, pick
from queue_server.domain.errors import NotFound

bp = Blueprint("ticket_page", __name__, template_folder="templates", static_folder="static/ticket",
               static_url_path="/t/static")

LANG_COOKIE = "hallq_lang"
NEAR = 2  # "快到您了" when this many or fewer are ahead

# every text of the page, in the three languages; {placeholders} are filled by the page
TEXTS: dict[str, dict[str, str]] = {
    "title": {"zh-Hans": "我的排队号", "zh-Hant": "我的排隊號", "en": "My queue number"},
    "ahead": {"zh-Hans": "前面还有 {n} 人", "zh-Hant": "前面還有 {n} 人", "en": "{n} ahead of you"},
    "ahead_none": {"zh-Hans": "前面没有人了", "zh-Hant": "前面沒有人了", "en": "Nobody is ahead of you"},
    "wait": {"zh-Hans": "预计等候约 {m} 分钟", "zh-Hant": "預計等候約 {m} 分鐘", "en": "About {m} min to wait"},
    "wait_range": {"zh-Hans": "预计等候约 {lo}–{hi} 分钟", "zh-Hant": "預計等候約 {lo}–{hi} 分鐘",
                   "en": "About {lo}–{hi} min to wait"},
    "wait_unknown": {"zh-Hans": "暂无窗口办理此业务，请留意大厅广播", "zh-Hant": "暫無窗口辦理此業務，請留意大廳廣播",
                     "en": "No window serves this now; listen for announcements"},
    "waiting": {"zh-Hans": "等候中", "zh-Hant": "等候中", "en": "Waiting"},
    "near": {"zh-Hans": "快到您了，请回到等候区留意叫号", "zh-Hant": "快到您了，請回到等候區留意叫號",
             "en": "Almost your turn: please return to the waiting area"},
    "called": {"zh-Hans": "请到 {w} 号窗口", "zh-Hant": "請到 {w} 號窗口", "en": "Please go to window {w}"},
    "called_detail": {"zh-Hans": "{t} 号，正在叫您", "zh-Hant": "{t} 號，正在叫您", "en": "Number {t}, it is your turn"},
    "serving": {"zh-Hans": "正在 {w} 号窗口办理", "zh-Hant": "正在 {w} 號窗口辦理", "en": "Being served at window {w}"},
    "held": {"zh-Hans": "已挂起，请留意 {w} 号窗口回呼", "zh-Hant": "已掛起，請留意 {w} 號窗口回呼",
             "en": "On hold: window {w} will call you back"},
    "done": {"zh-Hans": "已办结，感谢您的耐心", "zh-Hant": "已辦結，感謝您的耐心", "en": "Done. Thank you for waiting"},
    "no_show": {"zh-Hans": "已过号", "zh-Hant": "已過號", "en": "Missed"},
    "no_show_detail": {"zh-Hans": "{g} 分钟内可在自助终端重新排队", "zh-Hant": "{g} 分鐘內可在自助終端重新排隊",
                       "en": "Re-queue at a kiosk within {g} minutes"},
    "cancelled": {"zh-Hans": "已取消", "zh-Hant": "已取消", "en": "Cancelled"},
    "expired": {"zh-Hans": "已失效（当日未办理）", "zh-Hant": "已失效（當日未辦理）", "en": "Expired (not served that day)"},
    "enable_alerts": {"zh-Hans": "开启声音和振动提醒", "zh-Hant": "開啟聲音和振動提醒", "en": "Turn on sound and vibration"},
    "alerts_on": {"zh-Hans": "提醒已开启，请保持本页打开", "zh-Hant": "提醒已開啟，請保持本頁打開",
                  "en": "Alerts on: keep this page open"},
    "updated": {"zh-Hans": "更新于 {time}", "zh-Hant": "更新於 {time}", "en": "Updated {time}"},
    "offline": {"zh-Hans": "网络连接中断，正在重试…", "zh-Hant": "網絡連接中斷，正在重試…",
                "en": "Connection lost; retrying…"},
    "gone": {"zh-Hans": "没有找到这张号票", "zh-Hant": "沒有找到這張號票", "en": "This ticket was not found"},
    "gone_detail": {"zh-Hans": "请核对二维码，或到服务台咨询。", "zh-Hant": "請核對二維碼，或到服務台諮詢。",
                    "en": "Check the QR code, or ask at the help desk."},
    "class_green": {"zh-Hans": "绿色通道", "zh-Hant": "綠色通道", "en": "Priority (green channel)"},
    "class_appointment": {"zh-Hans": "预约", "zh-Hant": "預約", "en": "Appointment"},
    "noscript": {"zh-Hans": "本页每 20 秒自动刷新。", "zh-Hant": "本頁每 20 秒自動刷新。",
                 "en": "This page refreshes every 20 seconds."},
    "issued": {"zh-Hans": "取号时间 {time}", "zh-Hant": "取號時間 {time}", "en": "Taken at {time}"},
}


def _lang() -> str:
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    saved = request.cookies.get(LANG_COOKIE)
    return saved if saved in LANGS else "zh-Hans"


def texts_for(lang: str) -> dict[str, str]:
    return {k: pick(v, lang) for k, v in TEXTS.items()}


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
    texts = texts_for(lang)
    cfg = st.hall.config
    try:
        view = st.service.ticket(public_id)
    except NotFound:
        resp = make_response(render_template("ticket/gone.html", lang=lang, texts=texts,
                                             hall=pick(cfg.name, lang), langs=LANGS), 404)
        return _secure(resp)
    grace = cfg.queue.no_show_grace_minutes
    data = {"id": view["id"], "api": f"/api/v1/tickets/{view['id']}", "lang": lang, "texts": texts,
            "near": NEAR, "wide": WIDE_MINUTES, "grace": grace, "timezone": cfg.timezone, "ticket": view}
    resp = make_response(render_template(
        "ticket/page.html", lang=lang, texts=texts, view=view, hall=pick(cfg.name, lang),
        business=pick(view["business_name"], lang), state=describe(view, texts, grace), langs=LANGS,
        data=json.dumps(data, ensure_ascii=False).replace("</", "<\\/"), issued=view["issued_at"][11:16]))
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
