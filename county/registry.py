"""The registry of the county's halls and the platform's accounts, brought in line with county.toml.

At every start (and ``hallq platform sync``) the halls and accounts of the config are written to the
database in one transaction: new ones added, changed ones updated, those no longer in the file made
inactive (never deleted: their events stay). The database then answers every question about a hall:
its level, parent, address, coordinates, businesses, and where its journal is.
"""

from __future__ import annotations

import json
import logging

from county.config import Account, CountyConfig
from county.signin import audit

log = logging.getLogger("hallq.county.registry")
REGISTRY_LOCK = 0x68616C6C75  # "hallu": pg_advisory_xact_lock key of the registry's sync (each county lock its own)


def sync(conn, cfg: CountyConfig) -> dict[str, int]:
    """Write ``cfg``'s halls and accounts; return how many halls and accounts are active."""
    with conn.transaction():
        # one platform process at a time: two starting together would both see a changed account hash and reset it
        # (and end its sessions, and audit it) twice
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (REGISTRY_LOCK,))
        conn.execute("SET CONSTRAINTS ALL DEFERRED")  # a hall may name a parent listed after it
        for h in cfg.halls.values():
            conn.execute(
                "INSERT INTO halls (site, level, parent, name, address, latitude, longitude, businesses, journal_url, "
                "credential, active, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
                "ON CONFLICT (site) DO UPDATE SET level = excluded.level, parent = excluded.parent, "
                "name = excluded.name, address = excluded.address, latitude = excluded.latitude, "
                "longitude = excluded.longitude, businesses = excluded.businesses, journal_url = excluded.journal_url, "
                "credential = excluded.credential, active = excluded.active, updated_at = now()",
                (h.site, h.level, h.parent, json.dumps(h.name, ensure_ascii=False), h.address, h.latitude, h.longitude,
                 list(h.businesses), h.journal_url, h.credential, h.active))
            conn.execute("INSERT INTO hall_progress (site) VALUES (%s) ON CONFLICT DO NOTHING", (h.site,))
        conn.execute("UPDATE halls SET active = false, updated_at = now() WHERE NOT (site = ANY(%s)) AND active",
                     (list(cfg.halls),))
        for a in cfg.accounts:
            _sync_account(conn, a)
        names = [a.username for a in cfg.accounts]
        conn.execute("UPDATE accounts SET active = false WHERE NOT (username = ANY(%s)) AND active", (names,))
        conn.execute("DELETE FROM sessions WHERE username IN (SELECT username FROM accounts WHERE NOT active)")
    halls = conn.execute("SELECT count(*) AS n FROM halls WHERE active").fetchone()["n"]
    accounts = conn.execute("SELECT count(*) AS n FROM accounts WHERE active").fetchone()["n"]
    log.info("county registry: %d active halls, %d active accounts (from %s)", halls, accounts, cfg.path)
    return {"halls": halls, "accounts": accounts}


def _sync_account(conn, a: Account) -> None:
    """One account of the file. Its password is the file's only when the file gives a hash it has not given before
    (a new account, or the administrator's reset): otherwise the one its owner chose stays. A reset ends the account's
    sessions and is journaled in ``audit``; a hash is never logged. ``temporary_password``: the file's password, while
    the account has it, must be changed at its next sign-in."""
    before = conn.execute("SELECT file_hash FROM accounts WHERE username = %s", (a.username,)).fetchone()
    conn.execute(
        "INSERT INTO accounts (username, display_name, role, site, password_hash, file_hash, must_change_password, "
        "active) VALUES (%s, %s, %s, %s, %s, %s, %s, true) ON CONFLICT (username) DO UPDATE SET "
        "display_name = excluded.display_name, role = excluded.role, site = excluded.site, active = true, "
        # marked temporary while the account still has the file's password: it must be changed
        "must_change_password = accounts.must_change_password OR (excluded.must_change_password "
        "AND accounts.password_hash = excluded.file_hash)",
        (a.username, a.name, a.role, a.site, a.password_hash, a.password_hash, a.temporary_password))
    if before is not None and before["file_hash"] != a.password_hash:
        conn.execute("UPDATE accounts SET password_hash = %s, file_hash = %s, must_change_password = %s, "
                     "password_changed_at = now() WHERE username = %s",
                     (a.password_hash, a.password_hash, a.temporary_password, a.username))
        conn.execute("DELETE FROM sessions WHERE username = %s", (a.username,))
        audit(conn, "config", "password_reset", None, {"username": a.username, "source": "county.toml"})
        log.info("county account %s: its password was reset from the configuration; its sessions ended", a.username)


def halls(conn, site: str | None = None) -> list[dict]:
    """The registry with each hall's ingestion progress (every hall, or one)."""
    rows = conn.execute(
        "SELECT h.site, h.level, h.parent, h.name, h.address, h.latitude, h.longitude, h.businesses, h.active, "
        "p.high_water, p.max_seen, p.live_events, p.catchup_events, p.duplicates, p.last_event_at, p.last_heard_at, "
        "p.last_catchup_at, p.catchup_error, p.server_state, p.server_state_since "
        "FROM halls h LEFT JOIN hall_progress p USING (site) "
        "WHERE %s::text IS NULL OR h.site = %s ORDER BY h.level, h.site", (site, site)).fetchall()
    for r in rows:
        for k in ("last_event_at", "last_heard_at", "last_catchup_at", "server_state_since"):
            r[k] = r[k].isoformat() if r[k] is not None else None
    return rows
