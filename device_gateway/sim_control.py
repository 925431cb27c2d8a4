"""Pressing the simulated keys of a running gateway, and reading its simulated strips (demo, manual tests).

A gateway with simulated devices listens on a UNIX socket in the hall's data
directory (``devices-sim.sock``); ``hallq devices press`` and ``hallq devices
show`` talk to it, one line each way::

    hallq devices press 1 叫号          # the keypad of window 1: call the next number
    hallq devices press 1 转移 12       # transfer to window 12
    hallq devices press 1 rate 5        # the resident presses 非常满意 on the pad
    hallq devices show                  # what every simulated strip and keypad shows

Only simulated devices can be pressed: real ones are pressed by people.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from device_drivers.keypad import KEY_BYTES, KEY_LABELS

log = logging.getLogger("hallq.devices.sim")

SOCKET_NAME = "devices-sim.sock"
LABEL_KEYS = {label: name for name, label in KEY_LABELS.items()}


def socket_path(site: str, data_dir: str | None = None) -> Path:
    from hallq.settings import data_dir as hall_data_dir

    return hall_data_dir(site, data_dir) / SOCKET_NAME


class SimControl:
    """Serves press/show requests for the simulated devices of a gateway."""

    def __init__(self, path: Path, simulators: dict[str, Any], windows: dict[str, int]) -> None:
        self.path = path
        self.simulators = simulators  # device id -> simulated device
        self.windows = windows  # device id -> window
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)  # a stale socket of a gateway that died
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        sock.listen(4)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)
        self._thread.start()
        log.info("simulated devices: press keys with `hallq devices press <window> 叫号` (socket %s)", self.path)

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.path.unlink(missing_ok=True)

    def _serve(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.recv(1024).decode("utf-8", "replace").strip()
                    conn.sendall((self.handle(line) + "\n").encode())
                except OSError:
                    pass

    def _device(self, kind: str, window: int) -> Any:
        for dev_id, sim in self.simulators.items():
            if self.windows.get(dev_id) == window and sim.__class__.__name__.startswith(kind):
                return sim
        raise LookupError(f"window {window} has no simulated {'rating pad' if kind == 'RatingPad' else 'keypad'}")

    def handle(self, line: str) -> str:
        """One request: ``press <window> <key> [digits]``, ``rate <window> <level>`` or ``show``."""
        words = line.split()
        try:
            if words[:1] == ["show"]:
                return self.show()
            if len(words) >= 3 and words[0] == "rate":
                n = self._device("RatingPad", int(words[1])).press(int(words[2]))
                return f"ok: pad of window {words[1]} pressed {words[2]} (press no. {n})"
            if len(words) in (3, 4) and words[0] == "press":
                key = LABEL_KEYS.get(words[2], words[2])
                if key not in KEY_BYTES:
                    return f"error: unknown key {words[2]!r}; keys: {' '.join(KEY_LABELS.values())}"
                n = self._device("Keypad", int(words[1])).press(key, words[3] if len(words) == 4 else "")
                return f"ok: keypad of window {words[1]} pressed {KEY_LABELS[key]} (press no. {n})"
        except (LookupError, ValueError) as e:
            return f"error: {e}"
        return "error: use press <window> <key> [digits], rate <window> <1-5>, or show"

    def show(self) -> str:
        lines = []
        for dev_id, sim in sorted(self.simulators.items(), key=lambda kv: (self.windows.get(kv[0], 0), kv[0])):
            if hasattr(sim, "text"):
                lines.append(f"{dev_id:<12} {sim.text}")
            elif hasattr(sim, "lines"):
                lines.append(f"{dev_id:<12} {sim.lines[1]} | {sim.lines[2]}")
        return "\n".join(lines) or "no simulated devices"


def send(path: Path, line: str, timeout: float = 5.0) -> str:
    """Send one request to a gateway's SimControl; raise OSError if no gateway listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(line.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", "replace").rstrip("\n")
