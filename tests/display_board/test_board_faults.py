"""Faults of the display board and of the texts it shows, found by a review and fixed (docs/display-board.md):

1. two recent calls with one ``seq`` (a restored database numbers its calls again, and a board that missed the
   server going offline merged its snapshot) crashed the board: Kivy refuses a row added twice;
2. a ticket transferred to another business was shown twice, at two windows;
3. a call that reached the board only through a snapshot (its event lost, e.g. while the broker restarted) never
   flashed;
4. a full ID number in a notice was shown on the board (the server now masks it when a notice is saved; the board
   masks it too, for a notice stored before or published by anyone else);
5. a NUL cut a notice short on the ticker, and a newline in a name drew it over its neighbours;
6. more than 12 businesses: the queue tiles beyond the 12th were lost without a word (now shown page by page);
and an ended notice stayed on the board while the server was down.

Model and presenter rules are checked without a window; the rest on real Kivy boards rendered offscreen (one process
each, as tests/display_board/test_screens.py does), their screenshots in test-artifacts/display_board/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from display_board.model import BoardModel
from display_board.presenter import QueueTile, present, tile_page, tiles_per_page
from display_board.settings import load_boards
from hallq import contract
from hallq.privacy import mask_id_number
from tests.conftest import CITY, make_id
from tests.display_board.conftest import render
from tests.display_board.payloads import T0, board, call, notices, queue, status, texts

SITE = "hallq/liupanshui"
BOARDS = CITY.parent / "board.toml"
PAGES = Path(__file__).with_name("render_pages.py")


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def mono():
    return FakeTime()


def board_clock(mono: FakeTime):
    """The board's own wall clock, moving with ``mono``: T0 when the test starts."""
    return lambda: T0 + timedelta(seconds=mono.t - 1000.0)


@pytest.fixture
def lobby(mono):
    m = BoardModel(load_boards(BOARDS)["lobby"], monotonic=mono, wall=board_clock(mono))
    m.set_link(True)
    return m


def send(model, topic, payload, **params):
    return model.apply(topic, params, payload)


def seqs(model) -> list[int]:
    return [c.seq for c in model.recent]


# -- 1. one seq, two tickets ------------------------------------------------------------------------------------

BEFORE = board([call(i, f"A{i:03d}", 1 + i % 5) for i in range(1, 11)], updated=T0 + timedelta(seconds=11))
# `hallq restore` of another database: its calls reuse seqs 6..10 for other tickets, and the board saw no offline
AFTER = board([call(i, f"B{i:03d}", 1 + i % 5, at=T0 + timedelta(seconds=100 + i)) for i in range(6, 16)],
              updated=T0 + timedelta(seconds=120))


def test_a_snapshot_reusing_seqs_for_other_tickets_replaces_the_list(lobby, caplog):
    send(lobby, contract.BOARD, BEFORE)
    assert lobby.newest.ticket == "A010"
    send(lobby, contract.BOARD, AFTER)
    assert len(set(seqs(lobby))) == len(lobby.recent)
    assert [c.ticket for c in lobby.recent] == [f"B{i:03d}" for i in range(15, 7, -1)]
    assert "renumbered" in caplog.text
    # the calls of the restored database go on as usual afterwards
    assert send(lobby, contract.CALLS, call(16, "B016", 2, at=T0 + timedelta(seconds=130)))
    assert lobby.newest.ticket == "B016" and lobby.flashing()


def test_the_board_process_survives_a_restored_database_s_snapshot(tmp_path, artifacts):
    steps = [{"out": str(artifacts / "lobby-1080p-seq-reused.png"),
              "messages": [[f"{SITE}/status/server/queue", status("online")], [f"{SITE}/board", BEFORE]]},
             {"out": str(artifacts / "lobby-1080p-seq-reused-restored.png"), "messages": [[f"{SITE}/board", AFTER]]}]
    before, after = render(tmp_path, "lobby", steps)
    assert before["ticket"] == "A010" and before["recent"] == [f"A{i:03d}" for i in range(9, 2, -1)]
    assert after["ticket"] == "B015" and after["recent"] == [f"B{i:03d}" for i in range(14, 7, -1)]
    assert before["widgets"] == after["widgets"]


def test_one_seq_listed_twice_in_a_snapshot_is_one_call(lobby):
    twice = board([call(4, "A004", 1), call(5, "A005", 2), call(6, "A006", 3)])
    twice["recent_calls"].insert(2, {**twice["recent_calls"][1], "ticket": "B005", "business": "construction"})
    send(lobby, contract.BOARD, twice)
    assert [(c.seq, c.ticket) for c in lobby.recent] == [(6, "A006"), (5, "B005"), (4, "A004")]


ROWS = """
import json, sys
from dataclasses import replace
from pathlib import Path
from display_board.display import prepare_kivy
from display_board.settings import load_boards
settings = load_boards(sys.argv[1])["lobby"]
prepare_kivy("offscreen", Path(sys.argv[2]), settings.size, fullscreen=False)
from display_board.app import BoardApp
from display_board.model import BoardModel
from display_board.presenter import CallLine, present
from tests.display_board.payloads import T0
app = BoardApp(BoardModel(settings), now=lambda: T0)
app.root = app.build()
shown = []
for seqs in json.loads(sys.argv[3]):
    lines = [CallLine(ticket=f"T{i}", window="", window_2="", business="", mark="", seq=s) for i, s in enumerate(seqs)]
    app._set_rows(replace(present(app.model, T0), recent=lines))
    rows = list(reversed(app.root.ids.recent.children))
    shown.append({"tickets": [r.ticket for r in rows], "rows": len(rows), "distinct": len({id(r) for r in rows})})
print(json.dumps(shown))
"""


def test_the_recent_rows_use_each_widget_once_when_two_lines_share_a_seq(tmp_path):
    """Kivy refuses a widget added twice ("Cannot add <RecentRow>, it already has a parent"): the board crashed, and
    under `hallq start` stayed dead. The rows, a fixed pool keyed by seq, are each used at most once."""
    script = tmp_path / "rows.py"
    script.write_text(ROWS)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(KIVY_NO_ARGS="1", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    steps = [[9, 8, 7], [10, 9, 9, 8, 7], [11, 10, 9, 9, 9, 8, 7], [12, 11]]
    r = subprocess.run([sys.executable, str(script), str(BOARDS), str(tmp_path / "kivy"), json.dumps(steps)], env=env,
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-3000:]
    shown = json.loads(r.stdout.strip().splitlines()[-1])
    assert [s["tickets"][:len(seqs)] for s, seqs in zip(shown, steps)] == [
        ["T0", "T1", "T2"], ["T0", "T1", "T2", "T3", "T4"], ["T0", "T1", "T2", "T3", "T4", "T5", "T6"], ["T0", "T1"]]
    assert all(s["rows"] == s["distinct"] == 7 for s in shown)


# -- 2. a transferred ticket --------------------------------------------------------------------------------------

def test_a_transferred_ticket_is_shown_once_at_its_newest_window(lobby):
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    send(lobby, contract.CALLS, call(2, "B003", 4, business="construction"))
    send(lobby, contract.CALLS, call(3, "A002", 1))
    send(lobby, contract.CALLS, call(4, "B003", 2, business="commerce"))  # transferred: same number, other business
    view = present(lobby, T0)
    assert (view.newest.ticket, view.prompt, view.newest.mark) == ("B003", "请到 2 号窗口", "转自工程建设项目")
    assert [(r.ticket, r.window) for r in view.recent] == [("A002", "1号窗口"), ("A001", "1号窗口")]
    # a snapshot listing both of its calls shows it once too, at the newer one
    send(lobby, contract.BOARD, board([call(1, "A001", 1), call(2, "B003", 4, business="construction"),
                                       call(3, "A002", 1), call(4, "B003", 2, business="commerce")]))
    assert [(c.ticket, c.window) for c in lobby.recent] == [("B003", 2), ("A002", 1), ("A001", 1)]


# -- 3. a call heard only through a snapshot ---------------------------------------------------------------------

def test_a_call_whose_event_was_lost_flashes_when_the_snapshot_brings_it(lobby, mono):
    send(lobby, contract.BOARD, board([call(1, "A001", 1), call(2, "A002", 2)]))
    assert not lobby.flashing()  # switched on: the retained state is not news
    send(lobby, contract.CALLS, call(3, "A003", 3))
    mono.t += 60
    assert not lobby.flashing()
    # the broker restarted: the event of seq 4 was lost; the server's next snapshot, 3 s after the call, has it
    lost = call(4, "C007", 9, at=T0 + timedelta(minutes=2))
    send(lobby, contract.BOARD, board([call(1, "A001", 1), call(2, "A002", 2), call(3, "A003", 3), lost],
                                      updated=T0 + timedelta(minutes=2, seconds=3)))
    view = present(lobby, T0 + timedelta(minutes=2))
    assert view.newest.ticket == "C007" and view.flashing and view.prompt == "请到 9 号窗口"
    # its event, arriving after all, is a repeat: nothing more
    mono.t += 60
    assert not send(lobby, contract.CALLS, lost) and not lobby.flashing()


def test_a_call_the_snapshot_brings_long_after_it_was_made_does_not_flash(lobby, mono):
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    mono.t += 60
    old = call(2, "A002", 2, at=T0 + timedelta(minutes=1))
    send(lobby, contract.BOARD, board([call(1, "A001", 1), old], updated=T0 + timedelta(minutes=10)))
    assert lobby.newest.ticket == "A002" and not lobby.flashing()


def test_a_retained_snapshot_read_after_a_quiet_half_hour_does_not_flash_its_call(lobby, mono):
    """The publisher sends a snapshot only when it changes, so the retained one keeps the time of the hall's last
    change: a board reconnecting after a quiet half hour reads a call that is fresh by the snapshot's time but not
    by the board's clock: shown as the newest, not flashed as news."""
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    quiet = call(2, "A002", 2, at=T0 + timedelta(seconds=5))
    mono.t += 30 * 60
    send(lobby, contract.BOARD, board([call(1, "A001", 1), quiet], updated=T0 + timedelta(seconds=7)))
    assert lobby.newest.ticket == "A002" and not lobby.flashing()


def test_a_call_the_snapshot_brings_for_another_area_does_not_flash(mono):
    zone = BoardModel(load_boards(BOARDS)["zone-b"], monotonic=mono, wall=board_clock(mono))
    zone.set_link(True)
    send(zone, contract.BOARD, board([call(1, "C001", 7)]))
    mono.t += 60
    send(zone, contract.BOARD, board([call(1, "C001", 7), call(2, "A002", 2, at=T0 + timedelta(seconds=2))],
                                     updated=T0 + timedelta(seconds=4)))
    assert zone.newest.ticket == "C001" and not zone.flashing()


# -- 4, 5. what a notice or a name may put on the screen -------------------------------------------------------

def test_a_notice_with_a_full_id_number_is_masked_on_the_board(lobby):
    full = make_id()
    send(lobby, contract.NOTICES, notices((f"请身份证号{full}的张三到服务台", "urgent")))
    shown = present(lobby, T0).notices[0].text
    assert shown == f"请身份证号{mask_id_number(full)}的张三到服务台" and full not in str(lobby.notices)


def test_control_characters_never_reach_a_label(lobby):
    send(lobby, contract.NOTICES, notices(("今日\x00截止\x07，请\u202e到\n3号窗口", "urgent")))
    c = call(5, "A005", 3, area="一楼\nB区")
    c["business_name"] = texts("商事\n登记\t", "Business\x00registration")
    q = queue("commerce", 3, 5)
    q["name"] = texts("商事\r\n登记", "x")
    send(lobby, contract.BOARD, board([c], [q], hall_name=texts("六盘水市\n政务服务中心\x00", "Liupanshui")))
    view = present(lobby, T0)
    assert [n.text for n in view.notices] == ["今日截止，请到 3号窗口"]
    assert view.newest_detail == "商事 登记 · 一楼 B区" and view.hall_name == "六盘水市 政务服务中心"
    assert [t.name for t in view.queues] == ["商事 登记"]
    every = json.dumps([view.hall_name, view.newest_detail, [t.name for t in view.queues], view.notices[0].text])
    assert not any(ch in every for ch in "\x00\x07\n\r\t\u202e")


def test_a_notice_ends_on_the_board_by_its_clock_while_the_server_is_away(lobby):
    ends = T0 + timedelta(minutes=30)
    payload = notices(("上午十点前暂停取号", "warning"))
    payload["notices"][0]["until"] = ends.isoformat()
    send(lobby, contract.NOTICES, payload)
    send(lobby, contract.STATUS, status("offline"), kind="server", id="queue")
    assert [n.text for n in present(lobby, ends - timedelta(seconds=1)).notices] == ["上午十点前暂停取号"]
    standing = [n.text for n in present(lobby, ends).notices]
    assert "上午十点前暂停取号" not in standing and standing[0].startswith("办公时间")


def test_the_ticker_shows_a_whole_notice_with_a_nul_and_names_stay_one_line(tmp_path, artifacts):
    said = "请到窗口办理\x00今日截止\x07，过时不候"
    payload = notices((said, "urgent"))
    c = call(5, "A005", 3, area="\u202e一楼\nB区")
    c["business_name"] = texts("\u202e商事登记\n第二行\t制表", "x")
    steps = [{"out": str(artifacts / "lobby-1080p-control-characters.png"),
              "messages": [[f"{SITE}/status/server/queue", status("online")],
                           [f"{SITE}/board", board([c], [queue("commerce", 3, 5)])], [f"{SITE}/notices", payload]]}]
    shot, = render(tmp_path, "lobby", steps)
    assert shot["ticker"] == "请到窗口办理今日截止，过时不候"
    assert "\n" not in shot["detail"] and "\u202e" not in shot["detail"]
    assert shot["problems"] == []  # nothing drawn over anything: the detail line is one line


# -- 6. more businesses than one page of tiles ------------------------------------------------------------------

def test_tiles_are_spread_over_the_fewest_pages():
    assert [tiles_per_page(n) for n in (1, 5, 12, 13, 20, 24, 25, 26)] == [1, 5, 12, 7, 10, 12, 9, 9]
    tiles = [QueueTile(business=f"b{i}", name=f"b{i}", name_2="", waiting="", wait="", busy=False) for i in range(20)]
    assert tile_page(tiles[:12], 12, 5) == (tiles[:12], "")
    first, second, third = (tile_page(tiles, 10, turn) for turn in (0, 1, 2))
    assert first == (tiles[:10], "1/2") and second == (tiles[10:], "2/2") and third == first


EXTRA = [("公积金提取", "Housing fund"), ("不动产登记", "Real estate"), ("医保报销", "Medical insurance"),
         ("户籍办理", "Household registration"), ("出入境", "Exit and entry"), ("税务登记", "Tax"),
         ("车驾管", "Vehicles"), ("社保卡", "Social security card"), ("公证", "Notary"), ("人才服务", "Talent services"),
         ("残疾人服务", "Disability services"), ("民政婚姻", "Marriage"), ("水电气报装", "Utilities"),
         ("企业开办", "Starting a business"), ("投资项目", "Investment projects")]


def twenty_business_hall(tmp_path: Path, lang: str) -> tuple[Path, list[dict]]:
    """The city hall with 15 more businesses (20 in all), its lobby board with ``lang`` first; the 20 queues."""
    hall = tmp_path / "hall"
    shutil.copytree(CITY.parent, hall)
    (hall / "hall.toml").write_text((hall / "hall.toml").read_text("utf-8") + "".join(
        f'\n[[businesses]]\ncode = "x{i:02d}"\nprefix = "{chr(ord("F") + i)}"\n'
        f'name = {{ zh-Hans = "{zh}", zh-Hant = "{zh}", en = "{en}" }}\n'
        f'daily_limit = 100\nticket_requires = "none"\nservice_minutes = 10\n' for i, (zh, en) in enumerate(EXTRA)),
        "utf-8")
    second = "zh-Hans" if lang == "en" else "en"
    (hall / "board.toml").write_text(f'hall = "hall.toml"\n\n[[boards]]\nid = "lobby"\nlayout = "1920x1080"\n'
                                     f'languages = ["{lang}", "{second}"]\n', "utf-8")
    codes = ["commerce", "construction", "social", "online", "delivery"] + [f"x{i:02d}" for i in range(len(EXTRA))]
    queues = []
    for i, code in enumerate(codes):
        q = queue(code, (i * 7) % 23, 5 + i * 3, prefix=chr(ord("A") + i))
        if code.startswith("x"):
            q["name"] = texts(*EXTRA[int(code[1:])])
        queues.append(q)
    return hall / "board.toml", queues


def render_pages(tmp_path: Path, boards: Path, steps: list[dict], turns: list[int]) -> tuple[list[dict], list[dict]]:
    spec = {"boards": str(boards), "board": "lobby", "font": "cjk", "kivy_home": str(tmp_path / "kivy"),
            "steps": steps}
    spec_path, result = tmp_path / "spec.json", tmp_path / "result.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, str(PAGES), str(spec_path), str(result), json.dumps(turns)], env=env,
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0 and result.exists(), r.stderr[-4000:]
    return json.loads(result.read_text()), json.loads(result.with_suffix(".pages.json").read_text())


@pytest.mark.parametrize("lang, names", [("zh-Hans", [n for n, _ in EXTRA]), ("en", [e for _, e in EXTRA])])
def test_twenty_businesses_are_shown_page_by_page(tmp_path, artifacts, lang, names):
    boards, queues = twenty_business_hall(tmp_path, lang)
    first = {"zh-Hans": ["商事登记", "工程建设项目", "社会事务", "网办与寄递", "统一出件"],
             "en": ["Business registrati…", "Construction projec…", "Social affairs", "Online and mailed a…",
                    "Result collection"]}[lang]
    payload = board([call(i, f"A{i:03d}", 1 + i % 5) for i in range(1, 9)], queues)
    steps = [{"out": str((artifacts if n < 3 else tmp_path) / f"lobby-1080p-20-businesses-{lang}-page-{n}.png"),
              "messages": [[f"{SITE}/status/server/queue", status("online")], [f"{SITE}/board", payload],
                           [f"{SITE}/notices", notices(("请保管好随身物品，谨防诈骗", "info"))]] if n == 1 else []}
             for n in (1, 2, 3)]
    shots, pages = render_pages(tmp_path, boards, steps, turns=[0, 1, 2])
    assert [p["page"] for p in pages] == ["1/2", "2/2", "1/2"]
    shown = [[t for t in p["tiles"] if t] for p in pages]
    assert [len(s) for s in shown] == [10, 10, 10]
    names = [n if len(n) <= 20 else n[:19] + "…" for n in names]
    assert shown[0] == first + names[:5] and shown[1] == names[5:] and shown[2] == shown[0]
    assert all(s["problems"] == [] for s in shots), [s["problems"] for s in shots]
    assert pages[0]["widgets"] == pages[2]["widgets"]  # turning a page makes no widget
