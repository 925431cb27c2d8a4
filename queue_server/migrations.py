"""Schema migrations: numbered SQL files, each applied once; the pending ones in one transaction.

The files live in ``queue_server/schema/`` and are named ``NNN_what.sql``;
they are applied in order and recorded in ``_migrations``. A step that SQL cannot
express (encrypting existing values under the installation's ``secret.key``) is a
``NNN_what.py`` file with ``upgrade(conn, secret)``, run in the same transaction. A release adds a
file and never edits one that has been applied anywhere. A feature that
needs tables (appointments, ratings...) brings its own file, so features
never edit each other's schema.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sqlite3
from pathlib import Path

from hallq.migration_files import numbered_files
from queue_server.db import Database

log = logging.getLogger("hallq.migrations")

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
_NAME = re.compile(r"(\d{3})_[a-z0-9_]+\.(sql|py)")


def migration_files() -> list[Path]:
    return numbered_files(SCHEMA_DIR, _NAME)


class NewerSchema(RuntimeError):
    """The database was written by a newer hallq: this one must not open it (it would not know its tables)."""


def migrate(db: Database, secret: bytes | None = None) -> list[str]:
    """Apply the pending migrations, all in ONE transaction; return their names.

    An upgrade that skips releases applies several files: they commit together or not at all, so a
    failure (a full disk, a bug, a kill -9) leaves the database exactly as the old release left it,
    which the old release can still open. A database that has migrations this release does not know
    was written by a newer hallq: refused (:class:`NewerSchema`), never half understood.
    ``secret``: the installation's secret.key, for the Python steps that seal existing values.
    """
    conn = db.connection()
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
                 "applied_at TEXT NOT NULL DEFAULT (datetime('now')))")
    files = migration_files()
    known = {p.stem for p in files}
    done = {name for (name,) in conn.execute("SELECT name FROM _migrations")}
    unknown = sorted(done - known)
    if unknown:
        raise NewerSchema(f"the database {db.path} was written by a newer hallq (schema {unknown[-1]}; this one "
                          f"knows up to {max(known)}): run the newer release, or restore a backup made by this one")
    if not [p for p in files if p.stem not in done]:
        return []
    with db.write() as tx:
        # again under the write lock: another process (a second worker) may have just applied them
        done = {name for (name,) in tx.execute("SELECT name FROM _migrations")}
        pending = [p for p in files if p.stem not in done]
        for path in pending:
            if path.suffix == ".py":  # it refuses itself when it has values to seal and no secret
                _python_step(path).upgrade(tx, secret)
            else:
                for statement in split_statements(path.read_text(encoding="utf-8")):
                    tx.execute(statement)
            tx.execute("INSERT INTO _migrations (name) VALUES (?)", (path.stem,))
    applied = [p.stem for p in pending]
    if applied:
        log.info("applied migrations %s", ", ".join(applied))
    return applied


def _python_step(path: Path):
    spec = importlib.util.spec_from_file_location(f"hallq_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
