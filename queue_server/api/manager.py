"""The manager's live view of the hall: every window, every queue, today's totals, what needs attention."""

from __future__ import annotations

from hallq.schema import Arr, Obj
from queue_server.api import api, operation
from queue_server.api.hall import state
from queue_server.domain import attention as needs, followups, statistics

HALL_LIVE = Obj({"windows": Arr(Obj({}, extra=True), max_items=None), "queues": Arr(Obj({}, extra=True), max_items=None),
                 "today": Obj({}, extra=True), "attention": Obj({}, extra=True)}, extra=True)


def hall_live() -> dict:
    st = state()
    now = st.hall.now()
    day = now.date()
    with st.db.read() as conn:
        queues = st.snapshots.queues(conn, now)
        windows = st.snapshots.windows(conn)
        today = statistics.report(conn, day, day, "day", day)["total"]
        waiting_oldest = {r["business"]: r["at"] for r in conn.execute(
            "SELECT business, MIN(arrived_at) AS at FROM tickets WHERE business_day = ? AND state = 'waiting' "
            "GROUP BY business", (day.isoformat(),))}
        pressure = {r["business"]: r["since"] for r in conn.execute("SELECT business, since FROM tidal_pressure")}
        tidal_open = {r["window"]: r["business"] for r in conn.execute(
            "SELECT window, business FROM tidal_assignments WHERE released_at IS NULL")}
        attention = {
            "tidal_alerts": conn.execute("SELECT COUNT(*) FROM tidal_alerts WHERE acknowledged_at IS NULL").fetchone()[0],
            **{f"followups_{k}": v for k, v in followups.counts(conn, day).items()},
            **needs.summary(conn, now),
        }
    for q in queues.values():
        q["oldest_arrival"] = waiting_oldest.get(q["business"])
        q["under_pressure_since"] = pressure.get(q["business"])
    for w in windows:
        w["tidal_for"] = tidal_open.get(w["number"])
    return {"now": now.isoformat(), "windows": windows, "queues": list(queues.values()), "today": today,
            "attention": attention}


@api.get("/hall/live")
@operation("hall_live", "The live hall for managers: windows, queues and waits, today's totals, alerts",
           tag="consoles", auth="manager", response=HALL_LIVE, errors=(401, 403))
def get_hall_live(actor):
    return hall_live()
