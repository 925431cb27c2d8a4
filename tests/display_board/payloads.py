"""Contract-valid payloads for board and announcer tests (each checked by the contract's decoder)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from hallq import contract
from hallq.clock import CHINA

T0 = datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
NAMES = {"commerce": ("商事登记", "Business registration"), "construction": ("工程建设项目", "Construction projects"),
         "social": ("社会事务", "Social affairs"), "online": ("网办与寄递", "Online and mailed applications"),
         "delivery": ("统一出件", "Result collection"), "alpha": ("甲业务", "Alpha"), "beta": ("乙业务", "Beta")}
PREFIX_OF = {"A": "commerce", "B": "construction", "C": "social", "D": "online", "E": "delivery"}


def texts(zh: str, en: str) -> dict:
    return {"zh-Hans": zh, "zh-Hant": zh, "en": en}


def call(seq: int, ticket: str, window: int, kind: str = "call", at: datetime | None = None,
         business: str | None = None, area: str = "", recalls: int = 0) -> dict:
    business = business or PREFIX_OF.get(ticket[0], "commerce")
    zh, en = NAMES.get(business, (business, business))
    p = {"version": 1, "seq": seq, "kind": kind, "ticket": ticket, "business": business,
         "business_name": texts(zh, en), "window": window,
         "window_name": texts(f"{window}号窗口", f"Window {window}"), "area": area,
         "at": (at or T0 + timedelta(seconds=seq)).isoformat(), "recalls": recalls}
    return contract.decode(contract.CALLS, json.dumps(p))


def queue(business: str, waiting: int, est: int | None, prefix: str | None = None) -> dict:
    zh, en = NAMES.get(business, (business, business))
    return {"business": business, "name": texts(zh, en), "prefix": prefix or business[0].upper(),
            "waiting": waiting, "est_wait_minutes": est, "windows_serving": 1, "last_called": None}


def board(calls: list[dict], queues: list[dict] | None = None, day: str = "2026-11-23",
          updated: datetime | None = None, hall_name: dict | None = None, serving: bool = True,
          windows: list[dict] | None = None) -> dict:
    calls = sorted(calls, key=lambda c: -c["seq"])
    p = {"version": 1, "site": "liupanshui",
         "hall_name": hall_name or texts("六盘水市政务服务中心", "Liupanshui Government Service Center"),
         "business_day": day, "serving": serving, "issuing": True, "last_seq": calls[0]["seq"] if calls else 0,
         "recent_calls": calls, "queues": queues or [], "windows": windows or [],
         "updated_at": (updated or T0).isoformat()}
    return contract.decode(contract.BOARD, json.dumps(p))


def notices(*items: tuple[str, str]) -> dict:
    p = {"version": 1, "notices": [{"id": i + 1, "text": texts(t, t), "level": level, "until": None}
                                   for i, (t, level) in enumerate(items)], "updated_at": T0.isoformat()}
    return contract.decode(contract.NOTICES, json.dumps(p))


def status(state: str) -> dict:
    return contract.decode(contract.STATUS, json.dumps({"version": 1, "state": state}))
