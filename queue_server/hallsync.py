"""Applying the hall config file to the database.

The config file seeds the hall; the database holds what managers change at
run time. At every start the server compares the config's content hash with
the one it last applied:

* unchanged → nothing is touched, so a manager's live edits (a window's
  allocation, a paused window) survive restarts;
* changed → businesses, service items, windows with their allocation, staff
  and devices are upserted from the file, and those no longer in the file are
  deactivated (never deleted: old tickets and the journal refer to them). The
  journal records ``config_applied`` with the hash.

A release that reads the file into the database differently (the targets of
2026-12) raises ``FORMAT``; the stored hash carries it, so an unchanged file
is applied once more after such an upgrade.

Staff accounts follow their own entry, not the file's hash: a password is
taken from the file only for a new account or when that account's hash in the
file changed, and its name and role (and active = 1) only when its name or
role in the file changed (remembered per account in meta, ``staff_hash:`` and
``staff_entry:``), so a password, a role or a deactivation set in the console
is not undone by an unrelated edit of the file. An account the file seeded
and no longer lists is deactivated and its sessions end; accounts created in
the console are not the file's and are left alone.
"""

from __future__ import annotations

import json
import logging

from hallq.hallconfig import HallConfig
from queue_server.auth import devices_changed
from queue_server.domain import guides, search, throttles
from queue_server.domain import windows as window_rules
from queue_server.domain.context import SYSTEM, Hall, Tx
from queue_server.db import Database

log = logging.getLogger("hallq.config")

FORMAT = "2"  # 2: per-class targets (migration 013)
HELD_KEY = "businesses_held"  # meta: the businesses the files dropped, kept active while residents hold their numbers


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def apply_config(db: Database, hall: Hall, force: bool = False) -> bool:
    """Bring the database in line with ``hall.config`` if it changed; True if applied."""
    cfg: HallConfig = hall.config
    with db.write() as conn:
        tx = Tx(conn, hall, SYSTEM, hall.now())
        applied = f"{cfg.content_hash}:{FORMAT}"
        if not force and tx.meta("config_hash") == applied:
            if tx.meta(search.META_KEY) != search.VERSION:  # a database from before the index (or an older one)
                search.rebuild(tx.conn, tx.set_meta)
            _release_held(tx, cfg)
            return False
        held = _sync_businesses(tx, cfg)
        _sync_items(tx, cfg)
        replaced = guides.after_file_applied(tx)  # the file wins over the guides edited in the browser: kept as versions
        search.rebuild(tx.conn, tx.set_meta)
        _sync_windows(tx, cfg)
        _sync_staff(tx, cfg)
        _sync_devices(tx, cfg)
        tx.set_meta("config_hash", applied)
        tx.set_meta(HELD_KEY, _dump(held) if held else "")  # kept for their residents: released at a later start
        tx.set_meta("site", cfg.site)
        tx.journal("config_applied", data={"hash": cfg.content_hash[:16], "file": str(cfg.path.name),
                                           "businesses": len(cfg.businesses), "windows": len(cfg.windows),
                                           "items": len(cfg.items), **({"replaced": replaced[:50]} if replaced else {})})
    devices_changed(db)  # every process forgets the device keys it cached: a revoked key is refused at once
    log.info("applied hall config %s (%d businesses, %d windows, %d items)",
             cfg.path, len(cfg.businesses), len(cfg.windows), len(cfg.items))
    return True


def _sync_businesses(tx: Tx, cfg: HallConfig) -> list[str]:
    """The file's businesses; those it no longer lists made inactive, but for the ones still holding residents today,
    which are returned (:func:`_still_holding`)."""
    for pos, b in enumerate(cfg.businesses.values()):
        # a prefix may move between businesses in one edit: park old holders first
        tx.conn.execute("UPDATE businesses SET prefix = '~' || code WHERE prefix = ? AND code != ?", (b.prefix, b.code))
        tx.conn.execute(
            "INSERT INTO businesses (code, prefix, name, daily_limit, ticket_requires, service_minutes, "
            "green_target_minutes, appointment_target_minutes, ordinary_target_minutes, position, active) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,1) ON CONFLICT(code) DO UPDATE SET "
            "prefix=excluded.prefix, name=excluded.name, daily_limit=excluded.daily_limit, "
            "ticket_requires=excluded.ticket_requires, service_minutes=excluded.service_minutes, "
            "green_target_minutes=excluded.green_target_minutes, "
            "appointment_target_minutes=excluded.appointment_target_minutes, "
            "ordinary_target_minutes=excluded.ordinary_target_minutes, position=excluded.position, active=1",
            (b.code, b.prefix, _dump(b.name), b.daily_limit, b.ticket_requires, b.service_minutes,
             b.targets.green, b.targets.appointment, b.targets.ordinary, pos))
    held = _still_holding(tx, cfg)
    _deactivate(tx, "businesses", "code", list(cfg.businesses) + held)
    return held


def _release_held(tx: Tx, cfg: HallConfig) -> None:
    """At a start with the files unchanged: deactivate the businesses kept only for their residents (:data:`HELD_KEY`)
    once none hold their numbers any more; nothing else of the files is applied again (what managers changed in the
    console stays)."""
    held = json.loads(tx.meta(HELD_KEY) or "[]")
    if not held:
        return
    still = _still_holding(tx, cfg)
    gone = [code for code in held if code not in still]
    for code in gone:
        tx.conn.execute("UPDATE businesses SET active = 0 WHERE code = ? AND active", (code,))
        log.info("business %s, taken out of %s, has no residents left: deactivated", code, cfg.path)
    tx.set_meta(HELD_KEY, _dump([c for c in held if c in still]) if still else "")


def _still_holding(tx: Tx, cfg: HallConfig) -> list[str]:
    """Businesses the file no longer lists that still hold residents today (waiting, called, held): they stay
    active until those are served, as the console refuses to deactivate them (catalogue.refuse_deactivating), and
    go at the next start once none are left. A log line says so, with the count."""
    rows = tx.all("SELECT business, COUNT(*) AS n FROM tickets WHERE business_day = ? "
                  "AND (state = 'waiting' OR state = 'called' OR state = 'held') GROUP BY business", (tx.day,))
    kept = [(r["business"], r["n"]) for r in rows if r["business"] not in cfg.businesses]
    for code, n in kept:
        log.warning("business %s is no longer in %s but %d resident(s) hold its numbers today: it stays active until "
                    "they are served (give a window its queue in the console, or cancel them); a later start deactivates it",
                    code, cfg.path, n)
    return [code for code, _ in kept]


def _sync_items(tx: Tx, cfg: HallConfig) -> None:
    tx.conn.executemany(
        "INSERT INTO items (code, business, name, guide, position, active) VALUES (?,?,?,?,?,1) "
        "ON CONFLICT(code) DO UPDATE SET business=excluded.business, name=excluded.name, guide=excluded.guide, "
        "position=excluded.position, active=1",
        [(i.code, i.business, _dump(i.name), _dump(i.guide), pos) for pos, i in enumerate(cfg.items.values())])
    _deactivate(tx, "items", "code", list(cfg.items))


def _sync_windows(tx: Tx, cfg: HallConfig) -> None:
    for w in cfg.windows.values():
        tx.conn.execute(
            "INSERT INTO windows (number, name, kind, area, active, updated_at) VALUES (?,?,?,?,1,?) "
            "ON CONFLICT(number) DO UPDATE SET name=excluded.name, kind=excluded.kind, area=excluded.area, active=1",
            (w.number, _dump(w.name), w.kind, w.area, tx.at))
        tx.conn.execute("DELETE FROM allocation WHERE window = ?", (w.number,))
        tx.conn.executemany("INSERT INTO allocation (window, business, rank) VALUES (?,?,?)",
                            [(w.number, code, rank) for rank, code in enumerate(w.serves, start=1)])
    gone = _deactivate(tx, "windows", "number", list(cfg.windows))
    for number in gone:
        tx.conn.execute("DELETE FROM allocation WHERE window = ?", (number,))
        window_rules.return_directed(tx, number, "window_removed")  # no window would call them any more


def _staff_entry(s) -> str:
    """The fingerprint of a [[staff]] entry's name and role (its password has ``staff_hash:<job_no>``)."""
    return _dump([s.name, s.role])


def _sync_staff(tx: Tx, cfg: HallConfig) -> None:
    for s in cfg.staff:
        row = tx.one("SELECT id, active FROM staff WHERE job_no = ?", (s.job_no,))
        file_key, entry_key, entry = f"staff_hash:{s.job_no}", f"staff_entry:{s.job_no}", _staff_entry(s)
        if row is None:
            staff_id = tx.one("INSERT INTO staff (job_no, name, role, password_hash) VALUES (?,?,?,?) RETURNING id",
                              (s.job_no, s.name, s.role, s.password_hash))[0]
        else:
            staff_id = row["id"]
            # name, role and active only when the entry changed (or was never applied: an account the file
            # takes over, a database from before the fingerprints), so a deactivation or a role set in the
            # console survives unrelated edits of the file
            if tx.meta(entry_key) != entry:
                tx.conn.execute("UPDATE staff SET name = ?, role = ?, active = 1 WHERE id = ?",
                                (s.name, s.role, staff_id))
                if not row["active"]:
                    tx.journal("account_activated", data={"job_no": s.job_no, "source": "config"})
            if tx.meta(file_key) != s.password_hash:
                tx.conn.execute("UPDATE staff SET password_hash = ? WHERE id = ?", (s.password_hash, staff_id))
                if tx.meta(file_key) is not None:
                    # the file changed this account's password (a lost or leaked one, reset by the administrator):
                    # as a reset in the console, whoever held a session with the old one is signed out
                    ended = tx.conn.execute("DELETE FROM sessions WHERE staff_id = ?", (staff_id,)).rowcount
                    tx.journal("password_reset", data={"job_no": s.job_no, "source": "config", "sessions_ended": ended})
                    throttles.lift_account(tx, s.job_no, "password_reset")
        if tx.meta(file_key) != s.password_hash:
            # the password's age ([security] password_max_age_days) counts from when the file set it
            tx.conn.execute("INSERT INTO staff_accounts (staff_id, password_changed_at) VALUES (?, ?) ON CONFLICT(staff_id) "
                            "DO UPDATE SET password_changed_at = excluded.password_changed_at", (staff_id, tx.at))
        if s.temporary_password and tx.one("SELECT 1 FROM staff WHERE id = ? AND password_hash = ?",
                                           (staff_id, s.password_hash)):
            # the file's password, still in use, is an administrator's: its owner must choose one at the next sign-in
            tx.conn.execute("INSERT INTO staff_accounts (staff_id, password_changed_at, must_change_password) "
                            "VALUES (?, ?, 1) ON CONFLICT(staff_id) DO UPDATE SET must_change_password = 1",
                            (staff_id, tx.at))
        tx.set_meta(file_key, s.password_hash)
        tx.set_meta(entry_key, entry)
    _retire_staff(tx, {s.job_no for s in cfg.staff})


def _retire_staff(tx: Tx, listed: set[str]) -> None:
    """Deactivate the accounts the file seeded and no longer lists; staff added in the console are left alone.

    An account was seeded from the file when it has a ``staff_entry:`` (or, from before those,
    ``staff_hash:``) key in meta. Its sessions end, it leaves the windows it holds with no ticket in
    hand (as a deactivation in the console does), and its keys go: listed again later, it is a new entry.
    """
    seeded = {r[0].split(":", 1)[1] for r in tx.all("SELECT key FROM meta WHERE key GLOB 'staff_entry:*' "
                                                    "OR key GLOB 'staff_hash:*'")}
    for job_no in sorted(seeded - listed):
        row = tx.one("SELECT id, active FROM staff WHERE job_no = ?", (job_no,))
        if row is not None:
            tx.conn.execute("DELETE FROM sessions WHERE staff_id = ?", (row["id"],))
            window_rules.sign_out_account(tx, row["id"], "account_deactivated")
            if row["active"]:
                tx.conn.execute("UPDATE staff SET active = 0 WHERE id = ?", (row["id"],))
                tx.journal("account_deactivated", data={"job_no": job_no, "source": "config"})
        tx.conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (f"staff_entry:{job_no}", f"staff_hash:{job_no}"))


def _sync_devices(tx: Tx, cfg: HallConfig) -> None:
    for d in cfg.devices:
        tx.conn.execute(
            "INSERT INTO devices (id, kind, key_sha256, windows, active) VALUES (?,?,?,?,1) ON CONFLICT(id) DO UPDATE "
            "SET kind=excluded.kind, key_sha256=excluded.key_sha256, windows=excluded.windows, active=1",
            (d.id, d.kind, d.key_sha256, _dump(list(d.windows))))
    _deactivate(tx, "devices", "id", [d.id for d in cfg.devices])


def _deactivate(tx: Tx, table: str, key: str, keep: list) -> list:
    marks = ",".join("?" * len(keep)) or "NULL"
    rows = tx.conn.execute(f"UPDATE {table} SET active = 0 WHERE active AND {key} NOT IN ({marks}) RETURNING {key}",
                           tuple(keep)).fetchall()
    return [r[0] for r in rows]
