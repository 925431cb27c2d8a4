"""One registry of journal actions (queue_server/domain/actions.py): nothing is journaled outside it.

* statically: every action a journal call in ``queue_server/`` can write (read from the AST,
  followed through its callers) and every action named in SQL is registered, and the
  journal has no other door than ``Tx.journal``;
* dynamically: every test of this folder checks the journals of the databases it made
  (conftest.py); here, that check and the scan are shown to catch a planted action;
* every registered action has its name in the three languages;
* the publisher, the snapshots and the journal page read the registry.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest

from hallq.i18n import LANGS
from hallq.testing import ROOT
from queue_server.domain import actions
from queue_server.domain.actions import ACTIONS, CALLS, CALLS_SQL, Stale
from tests.queue_server.journal_actions_scan import JournalActions, sql_actions, written_actions

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_action_the_server_can_journal_is_registered():
    written = written_actions(ROOT)
    assert written.unresolved == [], ("journal calls whose action the scan cannot follow: write a literal, "
                                      "or declare the f-string in journal_actions_scan._computed()")
    missing = {code: sites for code, sites in written.actions.items() if code not in ACTIONS}
    assert missing == {}, "add these to queue_server/domain/actions.py"
    # and the registry holds no dead entries: what is no longer written is marked legacy
    assert {a.code for a in ACTIONS.values() if a.code not in written.actions} == \
        {a.code for a in ACTIONS.values() if a.legacy}
    assert len(written.actions) > 50  # the scan does see the journal calls


def test_every_action_named_in_sql_is_registered():
    named = sql_actions(ROOT)
    assert {"call", "recall", "call_back", "rating_prompt"} <= set(named)
    assert {code: sites for code, sites in named.items() if code not in ACTIONS} == {}


def test_the_estimate_cache_keeps_only_registered_actions():
    from queue_server.domain.estimates import EstimateCache

    assert EstimateCache.KEEPS - set(ACTIONS) == set()


def test_the_journal_has_one_door():
    """Only ``Tx.journal`` inserts into the journal, so the scan above sees every write."""
    doors = [p.relative_to(ROOT).as_posix() for p in (ROOT / "queue_server").rglob("*.py")
             if re.search(r"INSERT\s+(OR\s+\w+\s+)?INTO\s+journal\b", p.read_text(encoding="utf-8"), re.IGNORECASE)]
    assert doors == ["queue_server/domain/context.py"]


def test_the_scan_catches_a_planted_action(tmp_path):
    pkg = tmp_path / "queue_server"
    pkg.mkdir()
    (pkg / "planted.py").write_text(
        'def close(tx, soft):\n'
        '    tx.journal("planted_close" if soft else "close_window", window=1)\n'
        '    _log(tx, "planted_via_caller")\n'
        '    tx.journal(f"planted_{soft}")\n'
        '    tx.journal(tx.pick())\n\n\n'
        'def _log(tx, kind):\n'
        '    tx.journal(kind)\n')
    written = written_actions(tmp_path, computed={})
    assert set(written.actions) == {"planted_close", "close_window", "planted_via_caller"}
    assert [e for _, e in written.unresolved] == ["f'planted_{soft}'", "tx.pick()"]
    assert set(written.actions) - set(ACTIONS) == {"planted_close", "planted_via_caller"}


def test_every_database_check_catches_a_planted_action(state, journal_actions: JournalActions, tmp_path):
    """What conftest.py checks after every test here, shown failing on a planted action."""
    from queue_server.db import Database
    from queue_server.domain.context import SYSTEM, Tx
    from queue_server.migrations import migrate

    db = Database(tmp_path / "planted.sqlite3", synchronous="OFF")
    migrate(db)
    with db.write() as conn:
        Tx(conn, state.hall, SYSTEM, state.hall.now()).journal("planted_unregistered_action")
    db.close()
    assert journal_actions.unregistered() == {"planted_unregistered_action": {db.path}}
    Path(db.path).unlink()  # remove the plant (the journal is append-only), so this test passes its own check
    journal_actions.seen.pop("planted_unregistered_action")
    assert journal_actions.unregistered() == {}


def test_every_action_has_its_name_in_three_languages():
    for code, a in ACTIONS.items():
        assert tuple(a.names) == LANGS, code
        assert all(n and n == n.strip() for n in a.names.values()), code
        assert CJK.search(a.names["zh-Hans"]) and CJK.search(a.names["zh-Hant"]), code
        assert a.names["en"].isascii() and not CJK.search(a.names["en"]), code
        assert a.name("en") == a.names["en"] and a.name("xx") == a.names["zh-Hans"]
    assert actions.name("no_show", "zh-Hant") == "過號" and actions.name("not_registered", "en") == "not_registered"


def test_the_calls_are_the_partial_indexes_own_predicate(state):
    """SQLite uses journal_calls_day / journal_calls_business only for their exact WHERE expression (as made
    again by schema/025: the migrated database's own, not a file's)."""
    assert CALLS == ("call", "recall", "call_back")
    assert CALLS_SQL == "(action = 'call' OR action = 'recall' OR action = 'call_back')"
    conn = state.db.connection()
    for index in ("journal_calls_day", "journal_calls_business"):
        (sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?", (index,)).fetchone()
        assert sql.endswith(f"WHERE {CALLS_SQL}"), sql


def test_what_an_action_makes_stale():
    assert actions.stale("call") == Stale.CALL | Stale.WINDOW | Stale.QUEUE | Stale.BOARD
    assert actions.stale("sign_in") == Stale.WINDOW | Stale.QUEUES | Stale.BOARD
    assert actions.stale("config_applied") == Stale.EVERYTHING | Stale.NAMES
    assert actions.stale("notice") == Stale.NOTICES
    assert actions.stale("login") == actions.NOTHING == actions.stale("not_registered")
    assert not any(Stale.CALL in a.stale for a in ACTIONS.values() if a.code not in CALLS)


def test_the_publisher_reads_the_registry_and_warns_once_of_an_unknown_action(state, caplog, tmp_path):
    from queue_server.publisher import Publisher

    p = Publisher(state.db, state.hall, connection_factory=None, data_dir=tmp_path)

    class Sent:  # the broker's side of _send: what was published, in order
        def __init__(self):
            self.topics: list[str] = []

        def publish(self, topic, body, qos, retain, again=None):
            self.topics.append(topic)
            return True

    p.conn = sent = Sent()
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row

    def row(seq, action, window=None, business=None, data="{}"):
        return conn.execute("SELECT ? AS seq, ? AS action, ? AS window, ? AS business, ? AS data, "
                            "'2026-11-23T09:30:00+08:00' AS at, '2026-11-23' AS business_day, 'system' AS actor, "
                            "NULL AS ticket, NULL AS ticket_id", (seq, action, window, business, data)).fetchone()

    now = state.hall.now()
    p._take_rows(None, [row(1, "pause", window=2)], now)
    assert (p._dirty.windows, p._dirty.businesses, p._dirty.board) == ({2}, {"*"}, True)
    p._take_rows(None, [row(2, "transfer", window=1, business="alpha",
                            data='{"from_business": "alpha", "to_business": "beta", "to_window": 3}')], now)
    assert (p._dirty.windows, p._dirty.businesses) == ({1, 2, 3}, {"*", "alpha", "beta"})
    p._take_rows(None, [row(3, "notice")], now)
    assert p._dirty.notices and not p._dirty.everything
    with caplog.at_level(logging.WARNING, logger="hallq.publisher"):
        p._take_rows(None, [row(4, "planted_action"), row(5, "planted_action")], now)
    assert [r.getMessage() for r in caplog.records].count(
        "journal action 'planted_action' is not in queue_server/domain/actions.py: "
        "its changes reach MQTT only with the periodic refresh") == 1
    assert p.cursor == 5
    p._take_rows(None, [row(6, "day_rolled_over")], now)
    assert p._dirty.everything
    # every entry, known to the registry or not, went out on the journal topic for the county, in order
    assert sent.topics == [f"hallq/{state.hall.config.site}/journal"] * 6


@pytest.mark.parametrize("lang,name", [("zh-Hans", "过号"), ("zh-Hant", "過號"), ("en", "No-show")])
def test_the_journal_page_reads_the_registry(lang, name):
    from queue_server.web.journal_names import action_name

    assert action_name("no_show", lang) == name
