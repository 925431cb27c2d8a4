"""025: the predicates SQLite evaluates on every write of a ticket or a journal entry, without IN lists.

For ``x IN ('a', 'b', 'c')`` (three constants or more) SQLite builds a temporary B-tree of the list each time
the statement runs: a pager and its cache opened, two 4 KiB pages zeroed, the list inserted, all freed again.
A CHECK constraint and a partial index's WHERE are evaluated on every INSERT and on every UPDATE of the
columns they name, so a call next (two ticket updates, two journal entries) built 15 such trees, a sixth of
its instructions under callgrind (docs/performance.md, issue 16). Written as ``(x = 'a' OR x = 'b' …)`` the
same predicates are a few comparisons.

* the partial indexes tickets_active (011), tickets_one_open_per_person (001), journal_calls_day and
  journal_calls_business (010) are made again with the OR form. A partial index serves a query only when the
  query repeats its predicate's expression, so the queries that name them take the text from
  ``queue_server.domain.context.any_of`` (tests/queue_server/test_sql_plans.py checks both agree);
* the tickets table's CHECK on ``state`` (001) is rewritten in place, as SQLite documents for a change that
  alters no stored content (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema
  Changes"): the table's SQL in sqlite_schema, then the schema cookie moved on so that every connection reads
  the schema again. The new CHECK allows exactly the rows the old one did, so no row needs checking. Rebuilding
  the table instead would mean dropping it, which its foreign keys forbid inside the migrations' transaction.

Run in the migrations' one transaction: a failure leaves the schema as 024 left it.
"""

from __future__ import annotations

import sqlite3

OLD_CHECK = """CHECK (state IN
        ('waiting', 'called', 'serving', 'held', 'done', 'no_show', 'cancelled', 'expired'))"""
NEW_CHECK = """CHECK (state = 'waiting' OR state = 'called' OR state = 'serving' OR state = 'held'
        OR state = 'done' OR state = 'no_show' OR state = 'cancelled' OR state = 'expired')"""

INDEXES = [
    "DROP INDEX tickets_active",
    "CREATE INDEX tickets_active ON tickets (window) WHERE (state = 'called' OR state = 'serving' OR state = 'held')",
    "DROP INDEX tickets_one_open_per_person",
    "CREATE UNIQUE INDEX tickets_one_open_per_person ON tickets (business_day, business, id_hash) "
    "WHERE id_hash IS NOT NULL AND (state = 'waiting' OR state = 'called' OR state = 'serving' OR state = 'held')",
    "DROP INDEX journal_calls_day",
    "CREATE INDEX journal_calls_day ON journal (business_day, seq) "
    "WHERE (action = 'call' OR action = 'recall' OR action = 'call_back')",
    "DROP INDEX journal_calls_business",
    "CREATE INDEX journal_calls_business ON journal (business, business_day, seq) "
    "WHERE (action = 'call' OR action = 'recall' OR action = 'call_back')",
]


def upgrade(conn: sqlite3.Connection, secret: bytes | None) -> None:
    (sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'tickets'").fetchone()
    if OLD_CHECK not in sql:
        raise RuntimeError("migration 025_predicates_without_lists: the tickets table's CHECK on state is not the one "
                           "schema/001 made; was the table altered by hand? Restore it, or a backup, and start again")
    (version,) = conn.execute("PRAGMA schema_version").fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'tickets'",
                     (sql.replace(OLD_CHECK, NEW_CHECK),))
        conn.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
    for statement in INDEXES:
        conn.execute(statement)
