"""The county platform's PostgreSQL: connections and schema migrations.

Migrations are numbered SQL files in ``county/schema/`` (``NNN_what.sql``), applied once each and
recorded in ``_migrations``; the pending ones run in ONE transaction, under an advisory lock so two
platform processes starting together do not both apply them. A database that has migrations this
release does not know was written by a newer hallq: refused, never half understood (as the hall's
own SQLite, queue_server/migrations.py).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from hallq.migration_files import numbered_files

log = logging.getLogger("hallq.county.db")

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
_NAME = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")
MIGRATION_LOCK = 0x68616C6C71  # "hallq": pg_advisory_xact_lock key of the migrations
INGEST_LOCK = 0x68616C6C72     # the one ingesting process of a county (county/ingest.py)


class NewerSchema(RuntimeError):
    """The database was written by a newer hallq."""


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    """A connection whose rows are dicts; ``url`` is a libpq URL (postgresql://user@host:port/db)."""
    return psycopg.connect(url, autocommit=autocommit, row_factory=dict_row, connect_timeout=10,
                           application_name="hallq-county")


def migration_files() -> list[Path]:
    return numbered_files(SCHEMA_DIR, _NAME)


def migrate(url: str) -> list[str]:
    """Apply the pending migrations in one transaction; return their names."""
    files = migration_files()
    known = {p.stem for p in files}
    with connect(url) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name text PRIMARY KEY, "
                         "applied_at timestamptz NOT NULL DEFAULT now())")
            done = {r["name"] for r in conn.execute("SELECT name FROM _migrations")}
            unknown = sorted(done - known)
            if unknown:
                raise NewerSchema(f"the county database was written by a newer hallq (schema {unknown[-1]}; this "
                                  f"one knows up to {max(known)}): run the newer release")
            pending = [p for p in files if p.stem not in done]
            for path in pending:
                conn.execute(path.read_text(encoding="utf-8"))
                conn.execute("INSERT INTO _migrations (name) VALUES (%s)", (path.stem,))
    applied = [p.stem for p in pending]
    if applied:
        log.info("county database: applied migrations %s", ", ".join(applied))
    return applied
