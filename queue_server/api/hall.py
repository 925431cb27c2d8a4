"""Open reads: health, the hall, businesses, service guides, board, windows, tickets.

None of these carries personal data; boards, kiosks and phones use them.
"""

from __future__ import annotations

import os

from flask import current_app, request

from hallq import __version__
from hallq.clock import iso
from hallq.schema import Arr, Bool, Int, Num, Obj, Str, Texts
from queue_server.api import BadRequest, api, operation, query_int
from queue_server.api import schemas as S
from queue_server.readmodel import hall as reads
from queue_server.readmodel import search


def public_broker_url(cfg) -> str:
    """Where the hall's broker is, for a kiosk to connect: host and port only, never an account or a password."""
    from hallq.mqttbase import BrokerAddress

    a = BrokerAddress.parse(cfg.mqtt.effective_url)
    return f"{'mqtts' if a.tls else 'mqtt'}://{a.host}:{a.port}"


def state():
    return current_app.extensions["hallq"]


@api.get("/health")
@operation("get_health", "Liveness and readiness of the server, its database and its MQTT link", tag="hall",
           response=S.HEALTH)
def get_health(actor):
    st = state()
    reads.ping(st)
    now = st.hall.now()
    mqtt = st.mqtt_state()
    return {"status": "ok" if mqtt in ("connected", "follower", "disabled") else "degraded",
            "version": __version__, "database": "ok", "mqtt": mqtt, "now": iso(now),
            "business_day": now.date().isoformat(), "sqlite": reads.sqlite_settings(st),
            "broker": None if st.publisher is None else broker_in_use(st.hall.config),
            "server": serving_shape()}


def broker_in_use(cfg) -> dict:
    """The broker this server publishes to: the hall's own or one set by ``[mqtt] url``; host and port, no account."""
    from hallq.mqttbase import BrokerAddress

    a = BrokerAddress.parse(cfg.mqtt.effective_url)
    return {"embedded": cfg.mqtt.embedded, "host": a.host, "port": a.port, "tls": a.tls}


def serving_shape() -> dict:
    """Worker processes and threads per worker, as ``hallq serve`` started them (None outside ``hallq serve``)."""
    def number(name: str) -> int | None:
        value = os.environ.get(name, "")
        return int(value) if value.isascii() and value.isdigit() else None
    # queue_server.wsgi.serve sets them (ENV_WORKERS, ENV_THREADS); not imported: wsgi imports the app
    return {"workers": number("HALLQ_SERVE_WORKERS"), "threads": number("HALLQ_SERVE_THREADS")}


@api.get("/hall")
@operation("get_hall", "The hall: names, contacts, today's hours, whether it serves and issues now", tag="hall",
           response=S.HALL)
def get_hall(actor):
    st = state()
    cfg = st.hall.config
    now = st.hall.now()
    nxt = cfg.hours.next_opening(now)
    issuing = reads.issuing(st, now)
    return {"site": cfg.site, "name": cfg.name, "level": cfg.level, "traditional": cfg.traditional,
            "address": cfg.address, "phone": cfg.phone,
            "complaint_phone": cfg.complaint_phone, "today": cfg.hours.describe(now.date()),
            "next_opening": iso(nxt) if nxt else None, "serving": cfg.hours.is_serving(now), "issuing": issuing,
            "mqtt_url": public_broker_url(cfg), "clock": st.hall.clock.describe(),
            "catalogue": reads.catalogue_version(st),
            # what a kiosk tells residents: the missed-number rule, rating later
            "rules": {"no_show_grace_minutes": cfg.queue.no_show_grace_minutes,
                      "max_requeues": cfg.queue.max_requeues,
                      "green_channel_age": cfg.queue.green_channel_age,
                      "rate_within_workdays": cfg.ratings.rate_within_workdays,
                      # a bad review's call-back phone is kept at most this long (the consent's words say it)
                      "followup_contact_days": cfg.privacy.followup_contact_days}}


@api.get("/businesses")
@operation("list_businesses", "Every business (queue) with its waiting count and estimated wait", tag="hall",
           response=Arr(S.BUSINESS, max_items=None))
def list_businesses(actor):
    return reads.businesses(state())


@api.get("/businesses/<code>")
@operation("get_business", "One business with its queue and its service items", tag="hall", response=S.BUSINESS,
           errors=(404,))
def get_business(code, actor):
    return reads.business(state(), code)


@api.get("/items")
@operation("list_items", "Service items (事项), optionally of one business; with q, those matching a search, best first",
           tag="guides", response=Arr(S.ITEM, max_items=None), errors=(400, 404),
           query={"business": S.BUSINESS_CODE,
                  "q": Str(min_len=1, max_len=search.MAX_QUERY,
                           description="Chinese keywords (社保, 养老 保险), pinyin initials (yl) or full pinyin "
                                       "(yanglao) of a name; matches names, keywords, department, conditions "
                                       "and materials"),
                  "limit": Int(min=1, max=200, description="with q: at most this many items (default 20)")},
           description="Without q: every active item in the catalogue's order. With q: the items matching every "
                       "term, those whose name matches first (docs/api.md, \"Finding an item\").")
def list_items(actor):
    q = request.args.get("q")
    limit = query_int("limit", 20, 1, 200)  # checked with or without q: a bad limit is never silently ignored
    if q is None:
        return reads.items(state(), request.args.get("business"))
    if not q.strip() or len(q) > search.MAX_QUERY:
        err = BadRequest("error.query.invalid", field="q", problem=f"must be 1 to {search.MAX_QUERY} characters",
                         code="invalid_fields")
        err.fields = [{"field": "q", "problem": f"must be 1 to {search.MAX_QUERY} characters"}]
        raise err
    return search.search_items(state(), q, request.args.get("business"), limit)


@api.get("/items/<code>")
@operation("get_item", "One service item with its full guide (办事指南)", tag="guides", response=S.ITEM, errors=(404,))
def get_item(code, actor):
    return reads.item(state(), code)


@api.get("/board")
@operation("get_board", "What the display boards show (same as the retained MQTT board snapshot)", tag="hall",
           response=S.BOARD)
def get_board(actor):
    return reads.board(state())


@api.get("/notices")
@operation("list_notices", "Notices shown on the boards", tag="hall", response=S.NOTICES)
def list_notices(actor):
    return reads.notices(state())


@api.get("/windows")
@operation("list_windows", "Every window: state, current ticket, masked staff, businesses served", tag="windows",
           response=Arr(S.WINDOW, max_items=None))
def list_windows(actor):
    return reads.windows(state())


@api.get("/windows/<int:number>")
@operation("get_window", "One window", tag="windows", response=S.WINDOW, errors=(404,))
def get_window(number, actor):
    return reads.window(state(), number)


@api.get("/tickets/<public_id>")
@operation("get_ticket", "A ticket by its public id: state, people ahead, estimated wait", tag="tickets",
           response=S.TICKET, errors=(404,))
def get_ticket(public_id, actor):
    return state().service.ticket(public_id)


@api.get("/calls")
@operation("list_calls", "Today's most recent calls, newest first", tag="hall",
           response=Arr(S.BOARD.fields["recent_calls"].items, max_items=None), query={"limit": Int(min=1, max=200)})
def list_calls(actor):
    return reads.recent_calls(state(), query_int("limit", 20, 1, 200))


NEARBY_HALL = Obj({
    "site": Str(), "name": Texts(), "level": Str(), "address": Str(),
    "waiting": Int(description="people waiting for this business there now"),
    "est_wait_minutes": Int(nullable=True, description="today's average wait there; 0 when no one waits; null "
                                                        "when people wait and no one was called yet today"),
    "longest_wait_minutes": Int(), "open_now": Bool(),
    "distance_km": Num(nullable=True, description="great-circle distance; null without coordinates"),
}, extra=True)
NEARBY = Obj({
    "business": Str(),
    "available": Bool(description="false when the hall has no county platform or its last answer is too old"),
    "as_of": Str(nullable=True, description="when the county platform answered"),
    "show_after_minutes": Int(nullable=True, description="the wait here from which the pages show nearby halls"),
    "halls": Arr(NEARBY_HALL, max_items=None),
})


@api.get("/nearby")
@operation("nearby_halls", "就近办: nearby halls of the county serving the same business, with their current waits",
           tag="hall", response=NEARBY, errors=(400, 404), query={"business": S.BUSINESS_CODE},
           description="From the county platform, cached by the hall and refreshed in the background; never fetched "
                       "on the request's path. Without a county platform, or while it cannot be reached for a few "
                       "minutes, `available` is false and `halls` empty (docs/county.md, \"就近办\").")
def nearby_halls(actor):
    code = request.args.get("business", "")
    if not code:
        err = BadRequest("error.query.invalid", field="business", problem="is required", code="invalid_fields")
        err.fields = [{"field": "business", "problem": "is required"}]
        raise err
    reads.business(state(), code)  # 404 for a business this hall does not have
    cache = state().nearby
    if cache is None:
        return {"business": code, "available": False, "as_of": None, "show_after_minutes": None, "halls": []}
    return {"business": code, **cache.halls(code), "show_after_minutes": cache.link.show_after_minutes}
