"""The board's memory settings (docs/deployment.md, "The board's memory"), checked on real processes.

A real ``hallq board --offscreen`` of the village station, on software GL (Mesa's llvmpipe) and a real
Mosquitto, draws a snapshot and calls; then what it holds is read from /proc: no Pillow mapped (images
go through SDL2_image), and an RSS well below what the same board costs with Kivy's default 2x MSAA
(177-181 MB at 720p here, against 149 MB without: the bound lies halfway).
The GL context's samples are asked of GL itself, in a process that prepares Kivy as the board does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from display_board.settings import load_boards
from hallq import contract
from hallq.hallconfig import ConfigError as HallConfigError
from hallq.testing import wait_until
from tests.display_board.conftest import ROOT, VILLAGE

RSS_BOUND_MB = 163  # the 720p board: 177-181 MB here with Kivy's default MSAA, ~149 MB without: halfway


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_IMAGE")}
    env.update(KIVY_NO_ARGS="1", HALLQ_DEMO="1", **extra)
    return env


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no Rss in smaps_rollup")


def test_multisamples_is_a_board_setting_off_by_default(tmp_path):
    boards = load_boards(VILLAGE.with_name("board.toml"))
    assert boards["station"].multisamples == 0
    f = tmp_path / "board.toml"
    f.write_text(f'hall = "{VILLAGE}"\n[[boards]]\nid = "gpu"\nmultisamples = 4\n', encoding="utf-8")
    assert load_boards(f)["gpu"].multisamples == 4
    f.write_text(f'hall = "{VILLAGE}"\n[[boards]]\nid = "bad"\nmultisamples = 16\n', encoding="utf-8")
    with pytest.raises(HallConfigError, match="multisamples"):
        load_boards(f)


PROBE = """
import sys
import time
from pathlib import Path
sys.path.insert(0, {root!r})
from display_board.display import prepare_kivy
prepare_kivy("offscreen", Path({home!r}), (1280, 720), False, multisamples={samples})
from kivy.core.window import Window
from kivy.graphics.opengl import glGetIntegerv
import json
print(json.dumps({{"samples": glGetIntegerv(0x80A9)[0], "pil": "PIL" in sys.modules}}))
"""


@pytest.mark.parametrize("samples", [0, 2])
def test_the_gl_context_has_the_samples_asked_for(tmp_path, samples):
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT), home=str(tmp_path), samples=samples)],
                         env=_env(), capture_output=True, text=True, timeout=60, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert (got["samples"] == 0) == (samples == 0), got  # llvmpipe rounds 2 up to 4
    assert got["pil"] is False  # Kivy's image providers: SDL2 only


def test_a_real_village_board_holds_no_pillow_and_no_msaa_buffers(tmp_path, mosquitto):
    """Also: with $HALLQ_BOARD_DRAWN_LOG the board notes when it drew each call (bench/bench_station.py)."""
    settings = load_boards(VILLAGE.with_name("board.toml"))["station"]
    site = settings.hall.site
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    names = {c: dict(b.name) for c, b in settings.hall.businesses.items()}
    queues = [{"business": c, "name": n, "prefix": settings.hall.businesses[c].prefix, "waiting": 3,
               "est_wait_minutes": 20, "windows_serving": 1, "last_called": None} for c, n in names.items()]
    board = {"version": contract.VERSION, "site": site, "hall_name": dict(settings.hall.name),
             "business_day": "2026-11-23", "serving": True, "issuing": True, "last_seq": 0, "recent_calls": [],
             "queues": queues, "windows": [], "updated_at": "2026-11-23T09:30:00+08:00"}
    pub.publish(contract.BOARD.topic(site), json.dumps(board, ensure_ascii=False), qos=1, retain=True).wait_for_publish()
    shot = tmp_path / "board.png"
    drawn = tmp_path / "drawn.log"
    log = open(tmp_path / "board.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "launcher", "board", "--offscreen", "--config", str(VILLAGE),
                             "--data-dir", str(tmp_path / "data"), "--screenshot", str(shot)],
                            env=_env(HALLQ_MQTT_URL=mosquitto.url, HALLQ_BOARD_DRAWN_LOG=str(drawn)), cwd=ROOT,
                            stdout=log, stderr=log)
    try:
        wait_until(shot.exists, 60, "the board's first screenshot")
        code = next(iter(names))

        def noted() -> dict[int, float]:
            return {int(s): float(t) for s, t in (line.split() for line in drawn.read_text().splitlines())} \
                if drawn.exists() else {}

        for seq in range(1, 4):  # one at a time: two calls to one window in one refresh show only the second
            call = {"version": contract.VERSION, "seq": seq, "kind": "call", "ticket": f"A{seq:03d}",
                    "business": code, "business_name": names[code], "window": 1 + seq % 2,
                    "window_name": {"zh-Hans": f"{1 + seq % 2}号窗口"}, "area": "",
                    "at": "2026-11-23T09:31:00+08:00", "recalls": 0}
            published = time.monotonic()
            pub.publish(contract.CALLS.topic(site), json.dumps(call, ensure_ascii=False), qos=1).wait_for_publish()
            wait_until(lambda s=seq: s in noted(), 30, f"call {seq} noted as drawn")
            assert published < noted()[seq] < time.monotonic()
        assert set(noted()) == {1, 2, 3}
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "/PIL/" not in maps and "libSDL2_image" in maps
        rss = _rss_mb(proc.pid)
        assert rss < RSS_BOUND_MB, f"the village board holds {rss:.0f} MB: are MSAA buffers back? (maps: see log)"
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        pub.loop_stop()
        pub.disconnect()
    assert proc.returncode == 0, (tmp_path / "board.log").read_text()[-2000:]


def test_the_screenshot_written_behind_the_board_is_the_window_upright():
    """The offscreen board's screenshots are compressed in a thread (display.png_bytes): GL's rows come
    bottom-up, the PNG's top-down; a reader sees the same pixels."""
    import io

    from PIL import Image

    from display_board.display import png_bytes

    width, height = 64, 3
    rows = [bytes([200, 30, 30]) * width, bytes([30, 200, 30]) * width, bytes([30, 30, 200]) * width]  # bottom first
    image = Image.open(io.BytesIO(png_bytes(b"".join(rows), width, height)))
    assert image.size == (width, height) and image.mode == "RGB"
    assert [image.getpixel((5, y)) for y in range(height)] == [(30, 30, 200), (30, 200, 30), (200, 30, 30)]
