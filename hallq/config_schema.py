"""The shape of a hall's configuration files, as schemas: the first check on loading.

:mod:`hallq.hallconfig` validates a file against these (types, ranges,
patterns, unknown keys: every problem at once, each with its key), then
checks what a schema cannot (unknown businesses, duplicate prefixes,
overlapping hours). docs/configuration.md documents every key here, and a
test fails when one is missing there.
"""

from __future__ import annotations

from hallq.hours import WEEKDAYS
from hallq.targets import CLASSES, LIMITS, POLICIES
from hallq.schema import Arr, Bool, Int, Map, Obj, Str, Texts as TextsSchema

CODE = r"[a-z][a-z0-9_]{0,31}"
SITE = r"[a-z0-9][a-z0-9-]{0,39}"
ITEM_CODE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"



# the hall's and the county platform's [security] trusted_proxies (hallq/clientaddr.py)
TRUSTED_PROXIES = Arr(Str(max_len=64, pattern=r"[0-9A-Fa-f.:/]+"), max_items=50,
                      description="reverse proxies whose X-Forwarded-For is believed: addresses or networks")

_NAME = TextsSchema()
# service-level targets in minutes of opening time (hallq/targets.py, docs/dispatch.md)

_TARGETS = Obj({k: Int(min=LIMITS[0], max=LIMITS[1]) for k in CLASSES})
_PERIODS = Arr(Str(max_len=11), max_items=6)

HALL_FILE = Obj({
    "hall": Obj({
        "site": Str(pattern=SITE, description="MQTT site id: hallq/<site>/..."),
        "name": _NAME,
        "level": Str(enum=["city", "district", "town", "village"]),
        "address": Str(max_len=200),
        "phone": Str(max_len=40),
        "complaint_phone": Str(max_len=40),
        "services": Arr(Str(max_len=200), min_items=1, max_items=20),
        "timezone": Str(enum=["Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau"]),
        "public_url": Str(max_len=200, pattern=r"https?://\S+"),
        "traditional": Str(enum=["hk", "tw"], description="which Traditional Chinese zh-Hant shows: "
                           "Hong Kong (hk) or Taiwan (tw) characters and phrasing"),
    }, required=["site", "name", "level", "services"]),
    "mqtt": Obj({
        "url": Str(max_len=300, pattern=r"(mqtts?://\S+)?"),
        "embedded_listen": Str(pattern=r"[0-9a-zA-Z.:\[\]-]+:[0-9]{1,5}"),
        "username": Str(max_len=100),
        "password_env": Str(max_len=100, pattern=r"[A-Z_][A-Z0-9_]*"),
        "tls_ca": Str(max_len=300),
        "keepalive": Int(min=5, max=600),
        "tls": Bool(description="the hall's own broker (url empty) listens with TLS only; see hallq tls"),
    }),
    "calendar": Obj({
        "mode": Str(enum=["china", "weekdays"]),
        "holidays": Arr(Str(pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), max_items=400),
        "workdays": Arr(Str(pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), max_items=400),
    }),
    "hours": Obj({
        "workdays": _PERIODS,
        **{d: _PERIODS for d in WEEKDAYS},
        "issue_before_open_minutes": Int(min=0, max=240),
        "stop_issuing_before_close_minutes": Int(min=0, max=240),
        "issue_during_breaks": Bool(),
    }, required=["workdays"]),
    "queue": Obj({
        "no_show_grace_minutes": Int(min=0, max=480),
        "max_requeues": Int(min=0, max=5),
        "age_limit_minutes": Int(min=1, max=480, description="older name of targets.ordinary"),
        "targets": _TARGETS,
        "dispatch": Str(enum=list(POLICIES), description='"promises"; "age_limit": the rule before 2026-12, to compare'),
        "max_promises_in_a_row": Int(min=1, max=20),
        "green_channel_age": Int(min=0, max=120),
        "default_service_minutes": Int(min=1, max=240),
        "recent_calls": Int(min=1, max=50),
        "max_recalls": Int(min=0, max=20),
    }),
    "ratings": Obj({
        "rate_within_workdays": Int(min=0, max=30, description="a resident may rate up to N working days later"),
        "default_level": Int(min=0, max=5, description="level recorded when none is given; 0 = none"),
        "followup_workdays": Int(min=1, max=60, description="bad reviews: verify, fix, report back within N working days"),
    }),
    "tidal": Obj({  # 潮汐窗口, see docs/consoles.md
        "auto_assign": Bool(description="lend tidal windows automatically; false: only alert the manager"),
        "check_seconds": Int(min=5, max=3600),
        "hold_minutes": Int(min=0, max=480, description="an assignment lasts at least this long"),
        "rules": Arr(Obj({
            "business": Str(pattern=r"\*|" + CODE, description='a business code, or "*" for every business'),
            "waiting_above": Int(min=1, max=100000),
            "wait_minutes_above": Int(min=1, max=1440),
            "release_waiting_below": Int(min=0, max=100000),
            "release_wait_minutes_below": Int(min=0, max=1440),
        }, required=["business"]), max_items=50),
    }),
    "security": Obj({  # sign-in throttling, passwords and sessions, see docs/security.md
        "trusted_proxies": TRUSTED_PROXIES,
        "sign_in_free_failures": Int(min=1, max=20, description="per client and account, before attempts wait"),
        "sign_in_free_failures_per_client": Int(min=1, max=1000, description="per client, whichever account"),
        "sign_in_first_delay_seconds": Int(min=1, max=3600, description="the first wait, doubled at every failure"),
        "sign_in_max_delay_minutes": Int(min=1, max=1440, description="the longest wait"),
        "password_max_age_days": Int(min=0, max=3650, description="then a password must be changed; 0: never"),
        "session_idle_minutes": Int(min=1, max=720, description="a console session ends after this long unused"),
    }),
    "privacy": Obj({  # retention of personal data, see docs/privacy.md
        "personal_data_days": Int(min=1, max=3650,
                                  description="ID and phone data of tickets and appointments kept N days after their day"),
        "followup_contact_days": Int(min=1, max=365, description="a bad review's call-back phone is deleted N days "
                                     "after it was left, if its follow-up has not closed before"),
    }),
    "appointments": Obj({  # 预约办事, see docs/appointments.md
        "enabled": Bool(),
        "min_days_ahead": Int(min=0, max=30, description="earliest booking: N calendar days after today"),
        "max_workdays_ahead": Int(min=1, max=60, description="latest booking: the Nth working day after today"),
        "slot_minutes": Int(min=5, max=240),
        "capacity": Int(min=1, max=500, description="bookings per slot per item"),
        "business_capacity": Map(Int(min=0, max=5000), key_pattern=CODE, description="per slot, all items of a business"),
        "item_capacity": Map(Int(min=0, max=500), key_pattern=ITEM_CODE, max_keys=5000),
        "one_per_person_per_day": Bool(),
        "cancel_before_minutes": Int(min=0, max=10080),
        "checkin_before_minutes": Int(min=0, max=240),
        "checkin_after_minutes": Int(min=0, max=240),
        "no_show_limit": Int(min=0, max=50, description="0: never suspend"),
        "no_show_window_days": Int(min=1, max=3650),
        "suspend_days": Int(min=1, max=3650),
    }),
    "businesses": Arr(Obj({
        "code": Str(pattern=CODE),
        "prefix": Str(pattern=r"[A-Z]{1,2}"),
        "name": _NAME,
        "daily_limit": Int(min=1, max=9999),
        "ticket_requires": Str(enum=["none", "id", "phone", "id_or_phone"]),
        "service_minutes": Int(min=1, max=240),
        "age_limit_minutes": Int(min=1, max=480, description="older name of targets.ordinary"),
        "targets": _TARGETS,
    }, required=["code", "prefix", "name"]), min_items=1, max_items=26),
    "windows": Arr(Obj({
        "number": Int(min=1, max=999),
        "name": _NAME,
        "kind": Str(enum=["acceptance", "tidal", "dedicated", "delivery", "consult"]),
        "area": Str(max_len=40),
        "serves": Arr(Str(pattern=CODE), max_items=26),
    }, required=["number", "serves"]), min_items=1, max_items=300),
    "staff": Arr(Obj({
        "job_no": Str(pattern=r"[A-Za-z0-9]{2,16}"),
        "name": Str(min_len=1, max_len=40),
        "role": Str(enum=["staff", "manager", "admin"]),
        "password_hash": Str(max_len=300, pattern=r"\$argon2id?\$\S+"),
        "temporary_password": Bool(description="the file's password is good for one sign-in, then its owner chooses one"),
    }, required=["job_no", "name", "role", "password_hash"]), max_items=2000),
    "devices": Arr(Obj({
        "id": Str(pattern=r"[a-z0-9][a-z0-9-]{0,39}"),
        "kind": Str(enum=["kiosk", "gateway", "board", "announcer", "tablet", "county", "routing"]),
        "key_sha256": Str(pattern=r"[0-9a-f]{64}"),
        "windows": Arr(Int(min=1, max=999), max_items=300),
        "place": Str(max_len=40, description="where it stands, for staff who go there (一楼大厅入口)"),
    }, required=["id", "kind", "key_sha256"]), max_items=500),
}, required=["hall", "hours", "businesses", "windows"])

MATERIAL = Obj({
    "name": Str(min_len=1, max_len=200),
    "form": Str(enum=["原件", "复印件", "原件及复印件", "电子件"]),
    "copies": Int(min=1, max=20),
    "required": Bool(),
    "note": Str(max_len=300),
}, required=["name", "form"])

# person_name: a person's name other than the applicant's (新生儿, 母亲, 监护人...): checked as a resident's name,
# shown masked (张*三) like the applicant's, the full one only on request (显示全名, journaled)
FORM_FIELD_TYPES = ("text", "number", "date", "phone", "id_number", "select", "textarea", "person_name")
FORM_FIELD = Obj({  # one field of an item's application form (前台综合受理), see docs/applications.md
    "key": Str(pattern=r"[a-z][a-z0-9_]{0,31}"),
    "label": _NAME,
    "type": Str(enum=list(FORM_FIELD_TYPES)),
    "required": Bool(),
    "max_len": Int(min=1, max=2000),
    "pattern": Str(max_len=200, description="regular expression the whole value must match"),
    "options": Arr(Obj({"value": Str(min_len=1, max_len=64), "label": _NAME}, required=["value", "label"]),
                   max_items=50),
    "min": Int(description="number fields: smallest value"),
    "max": Int(description="number fields: largest value"),
    "hint": _NAME,
}, required=["key", "label", "type"])

SERVICES_FILE = Obj({
    "items": Arr(Obj({
        "code": Str(pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
        "business": Str(pattern=CODE),
        "name": _NAME,
        "category": Str(max_len=40),
        "department": Str(max_len=100),
        "recipients": Str(max_len=200),
        "keywords": Arr(Str(min_len=1, max_len=40), max_items=20,
                        description="other names residents use (俗称, e.g. 社保), found by the item search"),
        "conditions": Arr(Str(max_len=1000), max_items=30),
        "materials": Arr(MATERIAL, max_items=60),
        "statutory_days": Int(min=0, max=365),
        "promised_days": Int(min=0, max=365),
        "fee": Str(max_len=300),
        "basis": Arr(Str(max_len=500), max_items=20),
        "online": Str(enum=["全程网办", "网上预审", "窗口办理"]),
        "max_visits": Int(min=0, max=5),
        "contact": Str(max_len=40),
        "appointment": Bool(),
        "form": Arr(FORM_FIELD, max_items=40),
    }, required=["code", "business", "name"]), min_items=1, max_items=5000),
    # 一件事 packages (高效办成一件事, 国发〔2024〕3号): several items filed as one, see docs/applications.md
    "packages": Arr(Obj({
        "code": Str(pattern=CODE),
        "name": _NAME,
        "business": Str(pattern=CODE, description="the queue of the comprehensive window that takes it; "
                                                  "default: the first item's"),
        "items": Arr(Str(pattern=ITEM_CODE), min_items=2, max_items=20,
                     description="the member items' codes; each keeps its own department, 办件 and deadline"),
        "lead_department": Str(max_len=100, description="牵头部门; default: the first item's department"),
        "conditions": Arr(Str(max_len=1000), max_items=30),
        "basis": Arr(Str(max_len=500), max_items=20),
        "note": Str(max_len=500),
    }, required=["code", "name", "items"]), max_items=200),
})
