"""Accelerated days against a real ``hallq serve``, checked against the server's own records.

The simulator starts its own server on a virtual clock, moves the clock
event by event, and afterwards reads the journal; here the database it
leaves behind is read again independently, with SQL.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import pytest

from hallq.testing import ROOT
from simulation import cli
from simulation.percentiles import percentile

pytestmark = pytest.mark.slow

TINY_SIM = Path(__file__).parent / "tiny-day.toml"
VILLAGE_SIM = ROOT / "config" / "village-station" / "simulation.toml"


def simulate(tmp_path, *argv: str) -> list[dict]:
    out = tmp_path / "report.json"
    code = cli.main([*argv, "--json", str(out), "--data-dir", str(tmp_path / "servers")])
    assert code == 0
    return json.loads(out.read_text())


def database(tmp_path, scenario: str) -> sqlite3.Connection:
    db = sqlite3.connect(tmp_path / "servers" / scenario / "hallq.sqlite3")
    db.row_factory = sqlite3.Row
    return db


def test_a_busy_morning_agrees_with_the_servers_database(tmp_path, capsys):
    [rep] = simulate(tmp_path, "--scenario", str(TINY_SIM), "--only", "tidal", "--until", "10:30")
    assert rep["verified"]["ok"], rep["verified"]["problems"]
    t = rep["totals"]
    assert t["issued"] > 30 and t["served"] > 15 and t["transfers"] > 0 and t["requeued"] > 0
    db = database(tmp_path, "tidal")
    day = "2026-11-23"
    states = dict(db.execute("SELECT state, COUNT(*) FROM tickets WHERE business_day = ? GROUP BY state", (day,)))
    # every ticket issued was served, missed, or left unserved and expired by the close: nothing is still open
    assert set(states) <= {"done", "no_show", "expired"}
    assert sum(states.values()) == t["issued"]
    assert states.get("expired", 0) == t["unserved"] == t["expired_at_close"]
    assert states.get("done", 0) == t["served"]
    # the waits, recomputed from the journal with SQL: first call minus issue, per business
    rows = db.execute(
        "SELECT i.business, (julianday(MIN(c.at)) - julianday(i.at)) * 1440.0 AS wait FROM journal i "
        "JOIN journal c ON c.ticket_id = i.ticket_id AND c.action = 'call' WHERE i.action = 'issue' "
        "AND i.business_day = ? GROUP BY i.ticket_id", (day,)).fetchall()
    for business, b in rep["businesses"].items():
        waits = [r["wait"] for r in rows if r["business"] == business]
        assert len(waits) == b["wait_minutes"]["n"]
        assert sum(waits) / len(waits) == pytest.approx(b["wait_minutes"]["avg"], abs=0.01)
        assert percentile(waits, 90) == pytest.approx(b["wait_minutes"]["p90"], abs=0.01)
    # the scenario's change reached the server, and the tidal window served
    assert [r[0] for r in db.execute("SELECT business FROM allocation WHERE window = 3 ORDER BY rank")] == \
        ["beta", "alpha"]
    assert db.execute("SELECT COUNT(*) FROM tickets WHERE window = 3 AND state = 'done'").fetchone()[0] > 0
    # green channel tickets went to residents of 60 and over, by their ID card (masked in the database)
    assert db.execute("SELECT COUNT(*) FROM tickets WHERE class = 0 AND green_reason = 'elderly'").fetchone()[0] > 0
    assert db.execute("SELECT COUNT(*) FROM tickets WHERE id_masked IS NOT NULL AND length(id_masked) = 18 "
                      "AND instr(id_masked, '*') = 0").fetchone()[0] == 0
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    printed = capsys.readouterr().out
    assert "乙业务" in printed and "利用率" in printed


def test_the_same_seed_gives_the_same_figures_on_the_real_server(tmp_path):
    runs = []
    for i in range(2):
        [rep] = simulate(tmp_path / str(i), "--scenario", str(TINY_SIM), "--only", "baseline", "--until", "09:45")
        runs.append({k: rep[k] for k in ("totals", "businesses", "classes", "windows")})
    assert runs[0] == runs[1]
    assert runs[0]["totals"]["issued"] > 10


def test_appointments_are_booked_the_day_before_and_checked_in(tmp_path):
    [rep] = simulate(tmp_path, "--scenario", str(VILLAGE_SIM), "--only", "two-windows", "--until", "11:00")
    assert rep["verified"]["ok"], rep["verified"]["problems"]
    db = database(tmp_path, "two-windows")
    booked = db.execute("SELECT COUNT(*) FROM journal WHERE action = 'appointment_booked' "
                        "AND at LIKE '2026-11-22T20:00%'").fetchone()[0]
    assert booked == rep["totals"]["bookings"] > 0
    checked_in = db.execute("SELECT COUNT(*) FROM appointments WHERE status = 'checked_in'").fetchone()[0]
    assert checked_in == rep["classes"]["appointment"]["n"] > 0
    assert db.execute("SELECT COUNT(*) FROM tickets WHERE class = 1").fetchone()[0] == checked_in


def test_a_bad_simulation_file_is_refused_with_its_problems(tmp_path, capsys):
    bad = tmp_path / "sim.toml"
    bad.write_text(TINY_SIM.read_text().replace('hall = "../fixtures', f'hall = "{TINY_SIM.parent}/../fixtures')
                   .replace("walk_ins = 40", "walk_ins = -1"), encoding="utf-8")
    assert cli.main(["--scenario", str(bad)]) == 2
    assert "businesses.beta.walk_ins: must be at least 0" in capsys.readouterr().err
    assert cli.main(["--scenario", str(TINY_SIM), "--only", "nope"]) == 2
    assert "unknown scenarios ['nope']" in capsys.readouterr().err


def test_the_demo_starts_a_gentle_real_time_day_for_the_city_hall():
    args = argparse.Namespace(config=str(ROOT / "config" / "city-hall" / "hall.toml"), host="0.0.0.0", port=8080,
                              data_dir=None, virtual_clock="next-open")
    [(name, argv, needs_server)] = cli.hall_parts(args)
    assert name == "simulation" and needs_server
    assert argv[:3] == ["simulate", "--scenario", str(ROOT / "config" / "city-hall" / "simulation.toml")]
    assert "--server" in argv and argv[argv.index("--server") + 1] == "http://127.0.0.1:8080"
    assert argv[argv.index("--speed") + 1] == "1" and "--forever" in argv
    assert float(argv[argv.index("--arrival-scale") + 1]) < 0.5
    tiny = argparse.Namespace(config=str(ROOT / "tests" / "fixtures" / "tiny-hall" / "hall.toml"), host="127.0.0.1",
                              port=8080, data_dir=None, virtual_clock=None)
    assert cli.hall_parts(tiny) == []  # no simulation.toml beside that hall


def test_paced_mode_follows_the_servers_own_clock(server_proc, tmp_path):
    """The demo's mode: the server's clock runs (here 600 times real time), the simulator keeps pace."""
    server = server_proc(clock="2026-11-23T09:00:00+08:00")
    manager = server.client()
    manager.login("900", "hallq-demo")
    manager.request("PUT", "/tidal/auto", {"auto_assign": True})  # the hall's own setting: left alone
    out = tmp_path / "paced.json"
    code = cli.main(["--scenario", str(TINY_SIM), "--only", "baseline", "--server", server.url, "--speed", "600",
                     "--until", "09:25", "--json", str(out)])
    assert code == 0
    [rep] = json.loads(out.read_text())
    assert rep["period"]["from"] == "09:00" and rep["period"]["until"] == "09:25"
    assert rep["totals"]["issued"] > 5 and rep["totals"]["served"] > 0
    assert "appointments" not in " ".join(rep["notes"]) or "skipped" in " ".join(rep["notes"])
    clock = server.client().get("/clock")
    assert clock["rate"] == 600
    assert manager.get("/tidal")["auto_assign"] is True
    assert not [e for e in manager.get("/journal?limit=1000")["entries"] if e["action"] == "day_closed"]
    # at the end every window the simulator staffed is signed out again, nothing left half-done
    windows = {w["number"]: w for w in server.client().get("/windows")}
    assert windows[1]["state"] == windows[2]["state"] == "closed"
    assert windows[1]["current"] is None and windows[2]["current"] is None
