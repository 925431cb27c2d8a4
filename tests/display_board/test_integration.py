"""Board and announcer against a real server and a real Mosquitto: a call made over HTTP is seen and heard.

* the board's model (Kivy-free, on a real MQTT connection) shows a call made
  over HTTP, says "connection lost" when the broker goes, and shows the
  right state again when it returns, with no restart; likewise when the
  server is killed and started again;
* ``hallq board`` (offscreen: no DISPLAY here) and ``hallq announce``
  (wav-dir) as real processes: a call becomes a screenshot and a WAV file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import wave
from pathlib import Path

import pytest

from display_board.board_main import BOARD_TOPICS
from hallq.feed import HallFeed
from display_board.model import BoardModel
from display_board.presenter import present
from display_board.settings import load_boards
from hallq.mqtt import BrokerAddress, Connection
from hallq.testing import wait_until
from tests.conftest import KIOSK_KEY, MONDAY_0930, TINY

FIXTURES = Path(__file__).with_name("fixtures")




class LiveBoard:
    """The board's model on a real MQTT connection, updated under a lock as the Kivy main thread would."""

    def __init__(self, url: str) -> None:
        self.settings = load_boards(FIXTURES / "board.toml")["test"]
        self.model = BoardModel(self.settings)
        self.lock = threading.Lock()
        self.conn = Connection(BrokerAddress.parse(url), "tiny", "board", "test-live")
        self.feed = HallFeed(self.conn, "tiny", BOARD_TOPICS, deliver=self._deliver, on_link=self._link)
        self.feed.start()
        self.conn.start()

    def _deliver(self, topic, params, payload):
        with self.lock:
            self.model.apply(topic, params, payload)

    def _link(self, up):
        with self.lock:
            self.model.set_link(up)

    def view(self):
        with self.lock:
            return present(self.model, MONDAY_0930)

    def close(self):
        self.conn.stop()


@pytest.fixture
def hall(mosquitto, server_proc):
    server = server_proc(mqtt_url=mosquitto.url)
    kiosk = server.client(KIOSK_KEY)
    clerk = server.client()
    clerk.login("101", "hallq-demo")
    clerk.window_action(1, "sign-in")
    board = LiveBoard(mosquitto.url)
    yield server, kiosk, clerk, board
    board.close()


def test_a_call_over_http_is_on_the_board_and_survives_broker_and_server_restarts(hall, mosquitto):
    server, kiosk, clerk, board = hall
    for _ in range(3):
        kiosk.issue_ticket("alpha")
    wait_until(lambda: board.model.have_snapshot, what="the retained board snapshot")
    assert board.view().placeholder == "暂无叫号"
    clerk.call_next(1)
    view = wait_until(lambda: (v := board.view()).newest and v, what="A001 on the board")
    assert (view.newest.ticket, view.prompt, view.banner) == ("A001", "请到 1 号窗口", "")
    assert board.model.flashing()

    mosquitto.stop()
    # A broker shutting down may deliver the server's last will to the board before it closes the
    # board's own connection: "server offline" can show for a moment; the connection lost wins.
    view = wait_until(lambda: (v := board.view()).banner == "叫号信息连接中断，正在自动重连…" and v,
                      what="the connection-lost banner")
    assert view.newest.ticket == "A001"
    clerk.call_next(1, complete_current=True)  # committed while the broker is away
    mosquitto.start()
    view = wait_until(lambda: (v := board.view()).newest.ticket == "A002" and not v.banner and v, timeout=20,
                      what="A002 after the broker came back")
    assert [r.ticket for r in view.recent] == ["A001"]
    assert board.model.queues["alpha"]["waiting"] == 1

    server.kill9()  # the broker publishes the server's last will
    view = wait_until(lambda: (v := board.view()).banner and v, what="the server-offline banner")
    assert view.banner == "叫号服务器离线，正在等待恢复…"
    server.start()
    wait_until(lambda: not board.view().banner, timeout=20, what="the server back online")
    clerk2 = server.client()
    clerk2.login("101", "hallq-demo")
    clerk2.call_next(1, complete_current=True)
    view = wait_until(lambda: (v := board.view()).newest.ticket == "A003" and v, what="A003 after the restart")
    assert view.recent[0].ticket == "A002"


def test_hallq_board_and_hallq_announce_processes(hall, mosquitto, tmp_path):
    server, kiosk, clerk, _ = hall
    data = tmp_path / "devices"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(HALLQ_MQTT_URL=mosquitto.url, HALLQ_DATA_DIR=str(data))
    common = ["--config", str(TINY), "--data-dir", str(data)]
    board_log, ann_log = open(tmp_path / "board.log", "w+"), open(tmp_path / "announce.log", "w+")
    procs = [
        subprocess.Popen([sys.executable, "-m", "launcher", "board", *common, "--boards", str(FIXTURES / "board.toml")],
                         env=env, stdout=board_log, stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "launcher", "announce", *common,
                          "--announcer", str(FIXTURES / "announcer.toml")],
                         env=env, stdout=ann_log, stderr=subprocess.STDOUT),
    ]
    try:
        shot = data / "board-test.png"
        wait_until(shot.exists, 30, "the first screenshot")
        first = shot.stat().st_mtime_ns
        kiosk.issue_ticket("alpha")
        clerk.call_next(1)
        wav = data / "announcements" / "00000001-A001.wav"
        wait_until(wav.exists, 30, "the announcement's WAV")
        with wave.open(str(wav)) as w:
            seconds = w.getnframes() / w.getframerate()
        assert 4 < seconds < 15  # chime, Mandarin, Cantonese
        wait_until(lambda: shot.stat().st_mtime_ns > first, 10, "a new screenshot after the call")
    finally:
        for p in procs:
            p.terminate()
        codes = [p.wait(15) for p in procs]
    board_log.seek(0)
    ann_log.seek(0)
    blog, alog = board_log.read(), ann_log.read()
    assert codes == [0, 0], (blog[-2000:], alog[-2000:])
    assert "renders OFFSCREEN (no DISPLAY or WAYLAND_DISPLAY is set)" in blog and str(shot) in blog
    assert "writes its announcements as WAV files" in alog and "announced A001: 请 A 零零一 号到 一 号窗口办理" in alog
    assert "stopped" in blog and "1 announced" in alog
    from PIL import Image

    assert Image.open(shot).size == (1280, 720)
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "display_board"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "hallq-board-process-720p.png").write_bytes(shot.read_bytes())
    (artifacts / "hallq-announce-A001.wav").write_bytes(wav.read_bytes())
