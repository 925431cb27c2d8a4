"""Real Kivy boards rendered offscreen: screenshots saved under test-artifacts/ and checked by their pixels.

Checks: Chinese is drawn with real glyphs (the same screen with Kivy's own
font, which has no CJK glyphs and draws boxes, looks different where the
hall name is); the newest call is drawn large in the accent colour; the
flash and the "connection lost" bar are there when they should be; garbage
on every topic changes nothing; the widget count never grows.
"""

from __future__ import annotations

from PIL import Image, ImageChops

from hallq import contract
from tests.display_board.conftest import VILLAGE, render
from tests.display_board.payloads import call, status

SITE = "hallq/liupanshui"
STATION = "hallq/zhoujia-village"
ACCENT, FLASH, ALERT, BG = (0xFF, 0xD2, 0x3F), (0x9B, 0x1B, 0x1B), (0xB7, 0x1C, 0x1C), (0x0B, 0x1F, 0x3A)


def pixels_near(img: Image.Image, box: list[float], colour: tuple[int, int, int], tol: int = 40) -> int:
    """How many pixels of ``box`` (Kivy window coordinates: x, y from the bottom, w, h) are near ``colour``."""
    x, y, w, h = box
    crop = img.convert("RGB").crop((int(x), int(img.height - y - h), int(x + w), int(img.height - y)))
    masks = [band.point(lambda v, c=c: 255 if abs(v - c) <= tol else 0) for band, c in zip(crop.split(), colour)]
    both = ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2])
    return both.histogram()[255]


def region(img: Image.Image, box: tuple[int, int, int, int]) -> bytes:
    return img.convert("L").crop(box).tobytes()


def test_lobby_board_1080p_shows_the_hall_as_the_server_publishes_it(tmp_path, artifacts, morning):
    board, notices = morning.board(), morning.notices()
    newest = board["recent_calls"][0]
    assert (newest["ticket"], newest["kind"], newest["window"]) == ("C003", "recall", 7)
    following = call(board["last_seq"] + 1, "B002", 5, business="construction", area="一楼A区")
    garbage = [[f"{SITE}/{t}", g] for t in ("calls", "board", "notices", "queues/social", "windows/3",
                                               "status/server/queue") for g in ("{", "null", '{"version": 9}')]
    steps = [
        {"out": str(artifacts / "lobby-1080p-loading.png"), "messages": []},
        {"out": str(artifacts / "lobby-1080p.png"),
         "messages": [[f"{SITE}/status/server/queue", status("online")], [f"{SITE}/board", board],
                      [f"{SITE}/notices", notices]]},
        {"out": str(artifacts / "lobby-1080p-new-call-flash.png"), "flash": True,
         "messages": [[f"{SITE}/calls", following]]},
        {"out": str(artifacts / "lobby-1080p-connection-lost.png"), "link": False},
        {"out": str(artifacts / "lobby-1080p-recovered.png"), "link": True, "messages": garbage},
    ]
    loading, shown, flashing, lost, recovered = render(tmp_path, "lobby", steps)

    assert loading["ticket"] == "" and shown["ticket"] == "C003" and shown["mark"] == "重呼"
    assert shown["prompt"] == "请到 7 号窗口" and shown["prompt_parts"] == ["请到 ", "7", " 号窗口"]
    assert shown["hall_name"] == "六盘水市政务服务中心"
    once = []  # a ticket appears once (C003 was called, then recalled)
    for c in board["recent_calls"]:
        once += [c["ticket"]] if c["ticket"] not in once else []
    assert shown["recent"] == once[1:8]
    assert shown["tiles"] == ["商事登记", "工程建设项目", "社会事务", "网办与寄递", "统一出件"]
    # too long for one line: offscreen (software GL) it is shown page by page, cut after punctuation
    notice = notices["notices"][0]["text"]["zh-Hans"]
    assert notice.startswith(shown["ticker"]) and len(shown["ticker"]) < len(notice) and shown["ticker"][-1] in "，；、"
    assert flashing["ticket"] == "B002" and flashing["recent"][0] == "C003"
    assert lost["banner"] == "叫号信息连接中断，正在自动重连…" and recovered["banner"] == ""
    assert recovered["ticket"] == "B002" and recovered["bad"] == len(garbage)
    assert shown["widgets"] == recovered["widgets"]  # refreshes reuse the widgets

    imgs = {k: Image.open(r["png"]) for k, r in
            (("loading", loading), ("shown", shown), ("flash", flashing), ("lost", lost))}
    assert imgs["shown"].size == (1920, 1080)
    # the newest ticket is drawn large in the accent colour; before any data there is none
    assert pixels_near(imgs["shown"], shown["ticket_box"], ACCENT) > 8000
    assert pixels_near(imgs["loading"], loading["ticket_box"], ACCENT) < 200
    # the flash fills the newest-call panel; the lost bar is there only while the link is down
    assert pixels_near(imgs["flash"], flashing["newest_box"], FLASH) > 100_000
    assert pixels_near(imgs["shown"], shown["newest_box"], FLASH) < 1000
    bar = [0, 1080 * 0.885 - 1080 * 0.13, 1920, 1080 * 0.13]
    assert pixels_near(imgs["lost"], bar, ALERT) > 100_000 and pixels_near(imgs["shown"], bar, ALERT) < 1000


def test_chinese_is_drawn_with_real_glyphs_not_boxes(tmp_path, artifacts, morning):
    board = morning.board()
    step = {"messages": [[f"{SITE}/board", board]]}
    cjk, = render(tmp_path, "lobby", [{**step, "out": str(artifacts / "lobby-1080p-cjk-font.png")}])
    boxes, = render(tmp_path, "lobby", [{**step, "out": str(artifacts / "lobby-1080p-kivy-font-boxes.png")}],
                    font="kivy-default")
    a, b = Image.open(cjk["png"]), Image.open(boxes["png"])
    hall_name = (36, 10, 700, 85)  # where 六盘水市政务服务中心 is written
    ra, rb = region(a, hall_name), region(b, hall_name)
    ink = sum(1 for p in ra if p > 128)
    assert ink > 3000  # text is drawn there
    differing = sum(1 for p, q in zip(ra, rb) if abs(p - q) > 60)
    assert differing > 3000  # and it is not what Kivy's box-drawing default font makes of it
    # the Latin ticket numbers look the same in both fonts' region? No: but both draw them
    assert pixels_near(b, boxes["ticket_box"], ACCENT) > 8000


def test_area_board_720p(tmp_path, artifacts, morning):
    board = morning.board()
    shot, = render(tmp_path, "zone-b", [{"out": str(artifacts / "zone-b-720p.png"),
                                        "messages": [[f"{SITE}/board", board]]}])
    img = Image.open(shot["png"])
    assert img.size == (1280, 720)
    assert shot["ticket"] == "C003" and set(shot["recent"]) <= {"C001", "C002", "E001"}
    assert shot["tiles"] == ["社会事务", "统一出件"]
    assert pixels_near(img, shot["ticket_box"], ACCENT) > 3000


def test_a_transferred_ticket_says_where_it_came_from(tmp_path, artifacts, morning):
    """Issue 17: "B003 … 商事登记" with nothing saying it moved. B is 工程建设项目's letter: called for 商事登记,
    it was transferred, and the board says so, on the newest call and in the recent list."""
    board = morning.board()
    moved = call(board["last_seq"] + 1, "B003", 1, business="commerce", area="一楼A区")
    plain = call(board["last_seq"] + 2, "A009", 2, business="commerce", area="一楼A区")
    steps = [{"out": str(artifacts / "lobby-1080p-transferred.png"),
              "messages": [[f"{SITE}/board", board], [f"{SITE}/calls", moved]]},
             {"out": str(artifacts / "lobby-1080p-transferred-in-recent.png"), "messages": [[f"{SITE}/calls", plain]]}]
    newest, later = render(tmp_path, "lobby", steps)
    assert newest["ticket"] == "B003" and newest["mark"] == "转自工程建设项目"
    assert "商事登记" in newest["detail"]
    assert later["ticket"] == "A009" and later["mark"] == ""
    assert later["recent"][0] == "B003" and later["recent_marks"][0] == "转自工程建设项目"


def test_village_station_board_fills_its_screen(tmp_path, artifacts, station):
    """Issue 17: the station's 720p board left a large empty "最近叫号" area: a station has one or two windows and
    few calls, so the recent calls are few; what is there fills the screen, nothing is left empty and dark."""
    board = {"version": contract.VERSION, **station.api.ok("get", "/board")}
    shot, = render(tmp_path, "station", [{"out": str(artifacts / "station-720p.png"),
                                          "messages": [[f"{STATION}/board", board]]}],
                   boards=VILLAGE.parent / "board.toml")
    img = Image.open(shot["png"])
    assert img.size == (1280, 720)
    assert shot["ticket"] == "A003"
    # each of its two windows with the number it is serving, in rows that fill the panel to its bottom
    assert shot["recent"] == ["A003", "A002"] and shot["recent_title"] == "各窗口当前号"
    assert [r[1] for r in shot["recent_rows"]] and len(shot["recent_rows"]) == 2
    box = shot["recent_box"]
    assert sum(r[3] for r in shot["recent_rows"]) >= 0.98 * box[3]
    assert min(r[1] for r in shot["recent_rows"]) <= box[1] + 2
