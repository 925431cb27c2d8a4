"""A business taken out of hall.toml while residents hold its numbers today (queue_server/hallsync.py): it stays
active until they are served, as the console refuses to deactivate it, with a log line saying so; once none are
left, the next start deactivates it."""

from __future__ import annotations

import logging
import re

from hallq.hallconfig import load_hall
from queue_server.domain.context import Hall
from queue_server.hallsync import apply_config
from tests.conftest import TINY, make_id


def without_beta(state, tmp_path, name: str) -> bool:
    """Start with the tiny hall's file with business beta, its item and its windows' service of it removed; whether
    the files were applied (they are only when they changed)."""
    hall = TINY.read_text()
    hall = re.sub(r'\[\[businesses\]\]\ncode = "beta"\n(?:[^\[\n][^\n]*\n)*\n?', "", hall, count=1)
    hall = hall.replace('serves = ["beta", "alpha"]', 'serves = ["alpha"]').replace('serves = ["beta"]',
                                                                                  'serves = ["alpha"]')
    services = re.sub(r'\[\[items\]\]\ncode = "T-BETA-1"\n(?:[^\[\n][^\n]*\n)*\n?', "",
                      (TINY.parent / "services.toml").read_text(), count=1)
    conf = tmp_path / name
    conf.mkdir()
    (conf / "hall.toml").write_text(hall)
    (conf / "services.toml").write_text(services)
    return apply_config(state.db, Hall(load_hall(conf / "hall.toml"), state.hall.clock, state.hall.secret))


def active(state, code: str) -> bool:
    return bool(state.db.connection().execute("SELECT active FROM businesses WHERE code = ?", (code,)).fetchone()[0])


def test_a_business_the_file_drops_stays_while_residents_hold_its_numbers(api, state, tmp_path, caplog):
    t = api.issue("beta", id_number=make_id(seq=7))
    with caplog.at_level(logging.WARNING, logger="hallq.config"):
        assert without_beta(state, tmp_path, "a") is True
    assert active(state, "beta")
    assert "business beta is no longer in" in caplog.text and "1 resident(s)" in caplog.text
    assert api.ok("get", f"/tickets/{t['id']}")["state"] == "waiting"
    # the manager lets window 3 serve beta again for them, in the console: a restart meanwhile does not undo it
    api.ok("put", "/windows/3/allocation", {"serves": ["beta", "alpha"]}, as_="900")
    assert without_beta(state, tmp_path, "b") is False  # the same files: not applied again
    assert active(state, "beta")
    assert [r[0] for r in state.db.connection().execute(
        "SELECT business FROM allocation WHERE window = 3 ORDER BY rank")] == ["beta", "alpha"]
    api.ok("post", f"/tickets/{t['id']}/cancel", as_="kiosk")  # the resident gives up: nobody holds beta's numbers
    assert without_beta(state, tmp_path, "c") is False  # the next start releases it, the files still not re-applied
    assert not active(state, "beta") and active(state, "alpha")
