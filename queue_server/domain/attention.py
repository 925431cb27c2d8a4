"""What needs a person: residents asking for help at a kiosk, devices reporting a problem.

* **Help requests (找工作人员帮忙).** The kiosk's "ask staff for help" button
  (domain.md: a staffed "help me take a number" path; 帮办代办, seed 000 §22)
  makes a request that every window console and the manager's hall page show
  until a clerk takes it ("我去帮忙"). One open request per kiosk: pressing
  again returns the same request. Both steps are journalled, so the consoles'
  live poll sees them at once. A request nobody took is shown on its own
  business day only: the next morning it reads as expired (the resident has
  long gone; derived from its business day, never stored), and the kiosk's
  next press makes a fresh one.
* **Device health.** Kiosks and the device gateway publish each device's
  health, retained, on ``hallq/<site>/devices/<publisher>/<id>/health``. The server keeps
  the latest report of each (:func:`record_health`, called from its MQTT
  subscription) and journals a change of state, so "kiosk-1-printer: 缺纸"
  reaches the people who can load a roll, not only an MQTT log. A report is
  the report of (owner, device): the owner is the topic's ``<publisher>``,
  which the broker's ACL lets only that identity write, so a report or an
  empty retained message (:func:`forget_health`) from one publisher never
  touches what another reported, whatever device name it gives (schema/026).
  A publisher keeps at most so many device names (``max_names``; the listener's cap,
  queue_server/health_listener.py), and a device flapping between states is journalled at most once
  a minute (:class:`HealthPace`): its row always says its latest state, and the changes not journalled
  are counted in its next entry (``changes_not_journaled``).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hallq.i18n import languages, text, texts
from hallq.privacy import mask_name
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Conflict, Forbidden, NotFound

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

# the problem codes devices report, each named for the consoles by domain.device_problem.<code> (domain.po):
# the kiosk's printer, ID reader, scanner and sound, and the window devices of the gateway (LED strip, keypad,
# rating pad: device_drivers/hallq_bus.py, device_gateway/runners.py); any other code is
# domain.device_problem.unknown, a sentence with the code in it (never the bare code)
PROBLEMS = ("paper_out", "paper_near_end", "cover_open", "jammed", "offline", "printer_error", "unplugged",
            "no_status", "no_sound_device", "timeout", "no_answer", "refused", "wrong_device", "bad_config",
            "sam_fault", "no_player", "play_timeout", "play_failed", "no_tts", "tts_failed")


# the device kinds that report health (hallq/contract.py DEVICE_HEALTH), each named by domain.device_kind.<kind>;
# a problem that can befall any device ("offline") names the one it is: 身份证阅读器离线, not 打印机离线
KINDS = ("printer", "id_reader", "scanner", "led_strip", "keypad", "rating_pad", "audio", "tablet")


def device_name(kind: str) -> dict[str, str]:
    """A device kind in every language (设备 / device for a kind this server does not know)."""
    return texts(f"domain.device_kind.{kind if kind in KINDS else 'other'}")


def problem_texts(codes: list[str], kind: str = "other") -> list[dict[str, str]]:
    """Each problem code as a sentence in every language, naming the device by its kind ({device})."""
    name = device_name(kind)
    return [{"code": c, **{lang: text(f"domain.device_problem.{c}" if c in PROBLEMS else "domain.device_problem.unknown",
                                      lang, device=name[lang], code=c) for lang in languages()}} for c in codes]


# -- help requests ---------------------------------------------------------------------

def _help_view(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    """A request as the consoles and the kiosk see it; an open one of an earlier business day is ``expired``."""
    expired = row["state"] == "open" and row["business_day"] < now.date().isoformat()
    out = {"id": row["id"], "device": row["device"], "place": row["place"],
           "state": "expired" if expired else row["state"], "requested_at": row["requested_at"],
           "taken_at": row["taken_at"], "taken_by": None,
           "waited_minutes": max(0, int((now - datetime.fromisoformat(row["requested_at"])).total_seconds() // 60))}
    if row["taken_by"] is not None:
        out["taken_by"] = {"job_no": row["job_no"], "name": mask_name(row["staff_name"])}
    return out


_SELECT = ("SELECT h.*, s.job_no, s.name AS staff_name FROM help_requests h "
           "LEFT JOIN staff s ON s.id = h.taken_by")


def _find(conn: sqlite3.Connection, request_id: int, device: str | None = None) -> sqlite3.Row:
    """The request, or 404; with ``device``, only if that kiosk made it (another kiosk's is none of its business)."""
    row = conn.execute(_SELECT + " WHERE h.id = ?", (request_id,)).fetchone()
    if row is None or device is not None and row["device"] != device:
        raise NotFound("error.unknown_help_request", request_id=request_id, code="unknown_help_request")
    return row


def request_help(tx: Tx) -> dict[str, Any]:
    """A kiosk asks for staff; a second press while today's request is open returns it (``repeated``)."""
    actor = tx.actor
    if actor.kind != "kiosk":
        raise Forbidden("error.kiosk_only", code="kiosk_only")
    row = tx.one(_SELECT + " WHERE h.device = ? AND h.business_day = ? AND h.state = 'open'", (actor.id, tx.day))
    if row is not None:
        return {**_help_view(row, tx.now), "repeated": True}
    device = next((d for d in tx.hall.config.devices if d.id == actor.id), None)
    place = device.place if device is not None else ""
    cur = tx.conn.execute("INSERT INTO help_requests (device, place, business_day, requested_at) VALUES (?, ?, ?, ?)",
                          (actor.id, place, tx.day, tx.at))
    request_id = cur.lastrowid
    assert request_id is not None  # an INSERT sets it
    tx.journal("help_requested", data={"help_request": request_id, "device": actor.id, "place": place})
    return {**_help_view(_find(tx.conn, request_id), tx.now), "repeated": False}


def help_request(conn: sqlite3.Connection, actor: Actor, request_id: int, now: datetime) -> dict[str, Any]:
    """One request, for the kiosk that made it (is someone coming?) or for staff; another kiosk gets 404."""
    return _help_view(_find(conn, request_id, actor.id if actor.kind == "kiosk" else None), now)


def take_help_request(tx: Tx, request_id: int) -> dict[str, Any]:
    """A clerk goes to the kiosk: the request leaves every console (409 if someone already went)."""
    view = _help_view(_find(tx.conn, request_id), tx.now)
    if view["state"] == "expired":
        raise Conflict("error.help_expired", request_id=request_id, code="help_expired")
    if view["state"] == "taken":
        who = view["taken_by"]["job_no"] if view["taken_by"] else "?"
        raise Conflict("error.help_already_taken", job_no=who, code="help_already_taken", detail={"taken_by": who})
    tx.conn.execute("UPDATE help_requests SET state = 'taken', taken_by = ?, taken_at = ? WHERE id = ?",
                    (tx.actor.staff_id, tx.at, request_id))
    tx.journal("help_taken", data={"help_request": request_id, "device": view["device"]})
    return _help_view(_find(tx.conn, request_id), tx.now)


def open_help_requests(conn: sqlite3.Connection, now: datetime) -> list[dict[str, Any]]:
    """Today's open requests (an earlier day's are expired)."""
    rows = conn.execute(_SELECT + " WHERE h.state = 'open' AND h.business_day = ? ORDER BY h.requested_at, h.id",
                        (now.date().isoformat(),)).fetchall()
    return [_help_view(r, now) for r in rows]


# -- device health ---------------------------------------------------------------------

def _health_row(tx: Tx, owner: str, device: str) -> sqlite3.Row | None:
    """``owner``'s row of ``device``, else a row kept from before schema/026 (owner NULL, publisher unknown)."""
    return tx.one("SELECT owner, ok, problems FROM device_health WHERE device = ? AND (owner = ? OR owner IS NULL) "
                  "ORDER BY owner IS NULL LIMIT 1", (device, owner))


JOURNAL_EVERY = 60.0  # seconds: a device's state changes are journalled at most once in this long (HealthPace)


class HealthPace:
    """Per (owner, device): at most one journal entry per ``every`` seconds of the hall's clock.

    A device flapping between ok and paper_out a thousand times a second must not write a thousand journal
    entries (bridged to the county) and log lines: its first change is journalled, the next ones within
    ``every`` are only counted (its device_health row is still updated, so the consoles show the latest
    state), and the count goes into its next entry: the next change after ``every``, or the entry
    :func:`journal_held` writes when ``every`` has passed (:meth:`due`). Kept in memory by the one listener
    (the MQTT leader); a new leader starts afresh, at worst one entry early.
    """

    def __init__(self, every: float = JOURNAL_EVERY) -> None:
        self.every = every
        self._last: dict[tuple[str, str], float] = {}  # when its last entry was journalled
        self._held: dict[tuple[str, str], int] = {}  # changes since then, not journalled

    def admit(self, owner: str, device: str, now: datetime) -> int | None:
        """A change of (owner, device) at ``now``: None to hold it (counted), else the count held before it."""
        key, t = (owner, device), now.timestamp()
        last = self._last.get(key)
        if last is not None and t - last < self.every:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = t
        return self._held.pop(key, 0)

    def due(self, now: datetime, limit: int | None = None) -> list[tuple[str, str, int]]:
        """(owner, device, held) of each device whose held changes may now be journalled (at most ``limit``);
        each counts as journalled at ``now``."""
        t, out = now.timestamp(), []
        for key in [k for k in self._held if t - self._last.get(k, t - self.every) >= self.every][:limit]:
            out.append((*key, self._held.pop(key)))
            self._last[key] = t
        if len(self._last) > 256:  # a device quiet for ``every`` is journalled at once anyway: forget it
            for key in [k for k, last in self._last.items() if t - last >= self.every and k not in self._held]:
                del self._last[key]
        return out

    @property
    def waiting(self) -> list[tuple[str, str]]:
        """The (owner, device) with changes held."""
        return list(self._held)

    def any_due(self, now: datetime) -> bool:
        t = now.timestamp()
        return any(t - self._last.get(k, t - self.every) >= self.every for k in self._held)

    def forget(self, owner: str, device: str) -> None:
        self._last.pop((owner, device), None)
        self._held.pop((owner, device), None)


def health_names(conn: sqlite3.Connection, owner: str) -> set[str]:
    """The device names ``owner`` has a row of."""
    return {r[0] for r in conn.execute("SELECT device FROM device_health WHERE owner = ?", (owner,))}


def record_health(tx: Tx, payload: dict[str, Any], owner: str | None = None, pace: HealthPace | None = None,
                  max_names: int | None = None) -> bool | None:
    """Keep the latest health report of ``owner``'s device; journal it when its state changed. True if a change
    was journalled.

    ``owner``: the publisher, the ``<owner>`` of the topic the report arrived on (default: the transaction's
    actor, ``device:<owner>``). Only ``owner``'s own row of the device is replaced: another publisher's report
    naming the same device stays as it was. A row kept from before schema/026 (owner unknown) is replaced by
    the first report of its device. With ``pace``, a change is journalled only as :meth:`HealthPace.admit`
    allows (the row is updated either way). With ``max_names``, a report of a device ``owner`` has no row of
    is not kept when ``owner`` already has ``max_names`` rows: None, nothing written.
    """
    owner = tx.actor.id if owner is None else owner
    problems = sorted({str(p) for p in payload.get("problems") or []})
    ok = bool(payload["ok"])
    device = payload["device"]
    old = _health_row(tx, owner, device)
    if max_names is not None and (old is None or old["owner"] is None) and tx.row(
            "SELECT COUNT(*) FROM device_health WHERE owner = ?", (owner,))[0] >= max_names:
        return None
    if old is not None and old["owner"] is None:
        tx.conn.execute("DELETE FROM device_health WHERE device = ? AND owner IS NULL", (device,))
    tx.conn.execute(
        "INSERT INTO device_health (owner, device, kind, ok, problems, reported_at, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(owner, device) DO UPDATE SET kind = excluded.kind, ok = excluded.ok, "
        "problems = excluded.problems, reported_at = excluded.reported_at, received_at = excluded.received_at",
        (owner, device, payload["kind"], int(ok), json.dumps(problems), payload["at"], tx.at))
    changed = old is None and (not ok or problems) or old is not None and (
        bool(old["ok"]) != ok or json.loads(old["problems"]) != problems)
    if not changed:
        return False
    held = 0 if pace is None else pace.admit(owner, device, tx.now)
    if held is None:
        return False
    _journal_health(tx, device, payload["kind"], ok, problems, held)
    return True


def _journal_health(tx: Tx, device: str, kind: str, ok: bool, problems: list[str], held: int) -> None:
    data: dict[str, Any] = {"device": device, "kind": kind, "ok": ok, "problems": problems}
    if held:
        data["changes_not_journaled"] = held  # how often it changed since its last entry (HealthPace)
    tx.journal("device_health", data=data)


def journal_held(tx: Tx, owner: str, device: str, held: int) -> dict[str, Any] | None:
    """Journal ``owner``'s device's current state with the ``held`` changes not journalled before it
    (:meth:`HealthPace.due`); the row as journalled, or None when the device is gone."""
    row = tx.one("SELECT kind, ok, problems FROM device_health WHERE owner = ? AND device = ?", (owner, device))
    if row is None:
        return None
    entry = {"kind": row["kind"], "ok": bool(row["ok"]), "problems": json.loads(row["problems"])}
    _journal_health(tx, device, entry["kind"], entry["ok"], entry["problems"], held)
    return entry


def forget_health(tx: Tx, owner: str, device: str) -> bool:
    """``owner`` removed its device (an empty retained report): forget ``owner``'s row of it, and only that one.

    Another publisher's row of the same name, and a row kept from before schema/026, stay. True if one was kept.
    """
    cur = tx.conn.execute("DELETE FROM device_health WHERE owner = ? AND device = ?", (owner, device))
    return cur.rowcount > 0


def device_health(conn: sqlite3.Connection, only_problems: bool = False) -> list[dict[str, Any]]:
    """Every (owner, device) report, by device name: two publishers naming one device are two entries."""
    rows = conn.execute("SELECT * FROM device_health ORDER BY device, owner").fetchall()
    out = []
    for r in rows:
        problems = json.loads(r["problems"])
        if only_problems and r["ok"] and not problems:
            continue
        out.append({"device": r["device"], "owner": r["owner"], "kind": r["kind"], "ok": bool(r["ok"]),
                    "problems": problems, "problem_texts": problem_texts(problems, r["kind"]),
                    "reported_at": r["reported_at"], "received_at": r["received_at"]})
    return out


def summary(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    """What the consoles show in their attention bar."""
    return {"help_requests": open_help_requests(conn, now), "device_problems": device_health(conn, True)}


# -- the desk: one transaction per change (QueueService.attention) ---------------------------------

class AttentionDesk:
    """Help requests as kiosks and clerks make and take them; every change is one transaction."""

    def __init__(self, service: QueueService) -> None:
        self.service = service

    def request_help(self, actor: Actor) -> dict[str, Any]:
        return self.service._run(actor, None, request_help)

    def take_help_request(self, actor: Actor, request_id: int) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: take_help_request(tx, request_id))
