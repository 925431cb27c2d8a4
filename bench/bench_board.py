"""Display board: call event → board drawn, idle CPU, and memory over 100,000 events.

    .venv/bin/python bench/bench_board.py [--calls 300] [--interval 0.5] [--flood 100000] [--idle 10]

Runs the real board (Kivy, offscreen through Mesa's llvmpipe: software
rendering, so drawing costs CPU a GPU would not) on the sample city hall's
1920x1080 lobby layout, subscribed to a real Mosquitto on a free port. A
publisher thread in the same process plays the server:

* latency: ``--calls`` call events, one every ``--interval`` seconds (0.5); each carries its send
  time, and the board notes the first frame drawn (``on_flip``) after the
  refresh that shows it. Targets: p99 ≤ 100 ms.
* idle CPU: ``--idle`` seconds with no events (the clock still ticks), then
  as long again with a notice too long for the ticker (shown page by page,
  as "auto" does on software GL), and as long again forced to scroll (each
  frame redrawn: what a GPU does for free). Target: ≤ 5 % of one core.
* flood: ``--flood`` events (nine calls to one queue update), in batches of
  1,000 the board must have taken before the next; RSS after each tenth and
  the widget count before and after. Target: RSS ≤ 150 MB and flat.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from common import ROOT, emit, machine, percentiles, tempdir

from hallq.testing import Mosquitto


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between call events")
    ap.add_argument("--flood", type=int, default=100_000)
    ap.add_argument("--idle", type=float, default=10.0)
    args = ap.parse_args()
    work = tempdir()
    broker = Mosquitto(work)
    broker.start()
    os.environ["HALLQ_MQTT_URL"] = broker.url
    for var in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(var, None)
    try:
        result = run(args, work, broker)
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit(result)


def run(args, work: Path, broker: Mosquitto) -> dict:
    from display_board.display import find_cjk_font, prepare_kivy
    from display_board.settings import load_boards

    settings = load_boards(ROOT / "config" / "city-hall" / "board.toml")["lobby"]
    prepare_kivy("offscreen", work / "kivy", settings.size, fullscreen=False)
    from kivy.clock import mainthread
    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish

    from display_board.app import BoardApp
    from display_board.board_main import BOARD_TOPICS, schedule_heap_trim
    from display_board.display import register_font
    from hallq.feed import HallFeed
    from display_board.model import BoardModel
    from hallq import contract
    from hallq.clock import CHINA
    from hallq.mqtt import connect_from_settings

    register_font(find_cjk_font())
    schedule_heap_trim()  # as hallq board does (the rest of its memory settings come with prepare_kivy)
    model = BoardModel(settings)
    app = BoardApp(model, now=lambda: datetime.now(CHINA), finish_frames=True)  # as hallq board offscreen
    conn = connect_from_settings(settings.hall.mqtt, settings.hall.site, "board", "bench")
    feed = HallFeed(conn, settings.hall.site, BOARD_TOPICS, deliver=app.deliver, on_link=app.set_link)
    feed.start()
    conn.start()

    sent: dict[int, float] = {}
    drawn: dict[int, float] = {}
    waiting_for_flip: list[int] = []

    def on_refreshed(view) -> None:
        if view.newest is not None and view.newest.seq in sent and view.newest.seq not in drawn:
            waiting_for_flip.append(view.newest.seq)

    def on_flip(*_) -> None:
        if waiting_for_flip:
            glFinish()  # software GL rasterises lazily: "drawn" means the pixels are there
            now = time.perf_counter()
            for seq in waiting_for_flip:
                drawn.setdefault(seq, now)
            waiting_for_flip.clear()

    app.on_refreshed.append(on_refreshed)
    Window.bind(on_flip=on_flip)
    out: dict = {"benchmark": "display board (Kivy offscreen, llvmpipe software GL, 1920x1080 lobby) on Mosquitto"}

    def drive() -> None:
        try:
            out.update(scenario(args, settings, model, app, sent, drawn, contract, CHINA, broker))
        except Exception as e:  # the JSON says what went wrong rather than hanging
            out["error"] = repr(e)
        finally:
            mainthread(app.stop)()

    threading.Thread(target=drive, daemon=True).start()
    app.run()
    conn.stop()
    return out


def scenario(args, settings, model, app, sent, drawn, contract, tz, broker) -> dict:
    import paho.mqtt.client as paho
    from kivy.clock import mainthread

    site = settings.hall.site
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    t0 = datetime(2026, 11, 23, 9, 30, tzinfo=tz)
    names = {code: dict(b.name) for code, b in settings.hall.businesses.items()}
    codes = list(names)

    def call_payload(seq: int) -> dict:
        code = codes[seq % len(codes)]
        window = 1 + seq % 20
        return {"version": 1, "seq": seq, "kind": "recall" if seq % 17 == 0 else "call",
                "ticket": f"{settings.hall.businesses[code].prefix}{seq % 1000:03d}", "business": code,
                "business_name": names[code], "window": window,
                "window_name": {"zh-Hans": f"{window}号窗口"}, "area": settings.hall.windows[window].area,
                "at": (t0 + timedelta(seconds=seq)).isoformat(), "recalls": 0}

    queues = [{"business": c, "name": names[c], "prefix": settings.hall.businesses[c].prefix, "waiting": 5,
               "est_wait_minutes": 20, "windows_serving": 2, "last_called": None} for c in codes]
    board = {"version": 1, "site": site, "hall_name": dict(settings.hall.name), "business_day": "2026-11-23",
             "serving": True, "issuing": True, "last_seq": 0, "recent_calls": [], "queues": queues,
             "windows": [], "updated_at": t0.isoformat()}
    pub.publish(contract.BOARD.topic(site), json.dumps(board, ensure_ascii=False), qos=0, retain=True)
    pub.publish(contract.STATUS.topic(site, kind="server", id="queue"), json.dumps({"version": 1, "state": "online"}),
                qos=1, retain=True)
    deadline = time.monotonic() + 20
    while not model.have_snapshot and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # first frames and screenshots-free warm-up

    # -- latency -----------------------------------------------------------------
    seq = 0
    for _ in range(args.calls):
        seq += 1
        payload = call_payload(seq)
        sent[seq] = time.perf_counter()
        pub.publish(contract.CALLS.topic(site), json.dumps(payload, ensure_ascii=False), qos=1)
        time.sleep(args.interval)
    time.sleep(0.5)
    latencies = [(drawn[s] - sent[s]) * 1000 for s in sent if s in drawn]
    missing = len(sent) - len(latencies)

    # -- idle CPU ------------------------------------------------------------------------
    time.sleep(settings.flash_seconds + 1)  # let the last flash end
    c0, w0 = cpu_seconds(), time.monotonic()
    time.sleep(args.idle)
    idle = (cpu_seconds() - c0) / (time.monotonic() - w0) * 100
    notice = {"version": 1, "notices": [{"id": 1, "text": {"zh-Hans": "今日下午 14:00-15:00 系统升级，不动产登记、"
                                                                           "公积金提取业务暂停受理，其他业务照常办理；"
                                                                           "急需办理的请到 19 号窗口登记，升级完成后优先叫号"},
                                         "level": "urgent", "until": None}], "updated_at": t0.isoformat()}
    pub.publish(contract.NOTICES.topic(site), json.dumps(notice, ensure_ascii=False), qos=0, retain=True)
    time.sleep(1)
    c0, w0 = cpu_seconds(), time.monotonic()
    time.sleep(args.idle)
    idle_paged = (cpu_seconds() - c0) / (time.monotonic() - w0) * 100
    ticker = app.root.ids.ticker
    mainthread(lambda: (ticker.configure(replace(settings.notices, mode="scroll"), software=True),
                        ticker.set_notices(()), app._refresh()))()  # force scrolling, as on a GPU board
    time.sleep(1)
    c0, w0 = cpu_seconds(), time.monotonic()
    time.sleep(args.idle)
    idle_scrolling = (cpu_seconds() - c0) / (time.monotonic() - w0) * 100
    mainthread(lambda: (ticker.configure(settings.notices, software=True), ticker.set_notices(()),
                        app._refresh()))()
    pub.publish(contract.NOTICES.topic(site), json.dumps({**notice, "notices": []}), qos=0, retain=True)
    time.sleep(0.5)

    # -- flood: 100,000 events -----------------------------------------------------------------
    gc.collect()
    widgets_before = sum(1 for _ in app.root.walk())
    rss = [{"events": 0, "rss_mb": rss_mb()}]
    events = 0
    queue_topic = contract.QUEUE.topic(site, business=codes[0])
    started = time.monotonic()
    while events < args.flood:
        batch_calls_before = model.stats.calls
        calls_in_batch = 0
        for _ in range(1000):
            events += 1
            if events % 10 == 0:
                q = {"version": 1, **queues[0], "waiting": events % 50, "updated_at": t0.isoformat()}
                pub.publish(queue_topic, json.dumps(q, ensure_ascii=False), qos=0, retain=True)
            else:
                seq += 1
                calls_in_batch += 1
                pub.publish(contract.CALLS.topic(site), json.dumps(call_payload(seq), ensure_ascii=False), qos=1)
        deadline = time.monotonic() + 60
        while model.stats.calls < batch_calls_before + calls_in_batch and time.monotonic() < deadline:
            time.sleep(0.01)
        if events % (args.flood // 10 or 1) == 0:
            rss.append({"events": events, "rss_mb": rss_mb()})
    flood_seconds = time.monotonic() - started
    time.sleep(0.5)
    widgets_after = sum(1 for _ in app.root.walk())
    pub.loop_stop()
    pub.disconnect()
    mid = rss[len(rss) // 2]["rss_mb"] if len(rss) > 2 else rss[-1]["rss_mb"]
    return {
        "call_to_drawn": {**percentiles(latencies), "missing": missing, "interval_s": args.interval,
                          "target_p99_ms": 100},
        "idle_cpu_percent_of_one_core": {"no_notices": round(idle, 2), "long_notice_paged": round(idle_paged, 2),
                                         "long_notice_scrolling_30fps": round(idle_scrolling, 2), "target": 5.0},
        "flood": {"events": events, "calls_applied": model.stats.calls, "seconds": round(flood_seconds, 1),
                  "events_per_second": round(events / flood_seconds), "rss_mb": rss,
                  "rss_growth_second_half_mb": round(rss[-1]["rss_mb"] - mid, 1),
                  "widgets_before": widgets_before, "widgets_after": widgets_after,
                  "recent_calls_held": len(model.recent), "target_rss_mb": 150},
        "refreshes": app.refreshes,
        "machine": machine(),
        "note": "board, Mosquitto and the publisher share the 2 cores; software rendering (no GPU)",
    }


if __name__ == "__main__":
    sys.exit(main())
