"""Schema migrations: numbered SQL files, each applied once, in its own transaction.

The files live in ``queue_server/schema/`` and are named ``NNN_what.sql``;
they are applied in order and recorded in ``_migrations``. A release adds a
file and never edits one that has been applied anywhere. A feature that
needs tables (appointments, ratings...) brings its own file, so features
never edit each other's schema.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

from queue_server.db import Database

log = logging.getLogger("hallq.migrations")

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
_NAME = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")


def migration_files() -> list[Path]:
    files = sorted(p for p in SCHEMA_DIR.iterdir() if _NAME.fullmatch(p.name))
    numbers = [p.name[:3] for p in files]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two schema files share a number in {SCHEMA_DIR}: {numbers}")
    return files


def migrate(db: Database) -> list[str]:
    """Apply the pending migrations; return their names."""
    conn = db.connection()
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
                 "applied_at TEXT NOT NULL DEFAULT (datetime('now')))")
    applied: list[str] = []
    for path in migration_files():
        name = path.stem
        with db.write() as tx:
            if tx.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                continue
            for statement in split_statements(path.read_text(encoding="utf-8")):
                tx.execute(statement)
            tx.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
        applied.append(name)
        log.info("applied migration %s", name)
    return applied


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements (``executescript`` would commit first).

    ``sqlite3.complete_statement`` knows where a statement ends, including
    ``CREATE TRIGGER ... BEGIN ...; END;``.
    """
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if not buf and line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise sqlite3.ProgrammingError(f"incomplete SQL statement at the end of the script: {buf[:80]!r}")
    return out
