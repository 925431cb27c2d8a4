"""The Idempotency-Key of each key press, written down before the press is acted on.

A keypad keeps a press until a later POLL acknowledges it. A gateway killed
(``kill -9``, a power cut) after acting on a press and before that POLL leaves
the press on the keypad, and the restarted gateway reads it again. So that the
server answers that replay with its first answer instead of acting again (a
second 叫号 would finish the next resident unserved), the action of a press
carries an ``Idempotency-Key`` named after the press itself::

    hq-press:<gateway id>:<bus>:<address>:<boot>.<event no.>:<nonce>

``(boot, event no.)`` is what the keypad calls the press (the boot id changes
at power-on; the event number runs 1-255 and wraps). It does not name a press
for long: the event number wraps after 255 presses (a busy window's day), and
a random boot id may come back after a power cut, while the server keeps a
key's answer for two days (``queue_server.domain.retention.REQUEST_DAYS``).
A key made of those alone would, some day, have a new press answered with an
old press's answer: a 叫号 that calls nobody. So each key also has a random
nonce, and the gateway writes (boot, number, key, time read) of the last
press read from each device to ``<data dir>/gateway-<id>-presses.json``,
flushed to disk, *before* the press goes to the window's action queue. After
a restart, a press whose (boot, number) is the one written for its device is
the same press read again (a device hands out only its oldest unacknowledged
press, and each later press read replaces the entry): it gets the same key,
and the age it had (a replay read more than ``STALE_SECONDS`` after its first
reading is dropped like any press that waited that long). Any other press gets
a new key.

Without a data directory (tests, tools) keys are kept in memory only: a
restarted gateway cannot recognise a replay.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("hallq.devices.presses")

MAX_KEY = 100  # the server takes 1 to 100 visible ASCII characters (queue_server.api.inputs.IDEMPOTENCY_KEY)


@dataclass(frozen=True)
class PressKey:
    """The key of one press, when it was first read (wall clock) and whether this reading is a replay."""

    key: str
    read_at: float
    replay: bool = False

    def age(self, now: float | None = None) -> float:
        """Seconds since the press was first read (0 for a fresh one; never negative)."""
        return max(0.0, (time.time() if now is None else now) - self.read_at)


class PressJournal:
    """The last press read from each keypad and rating pad, and its key (a file in the data directory)."""

    def __init__(self, gateway_id: str, data_dir: Path | None = None) -> None:
        self.gateway_id = gateway_id
        self.path = Path(data_dir) / f"gateway-{gateway_id}-presses.json" if data_dir is not None else None
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data.get("devices") if isinstance(data, dict) else None
            if not isinstance(entries, dict):
                raise ValueError("no devices")
            return {k: v for k, v in entries.items() if isinstance(v, dict) and isinstance(v.get("key"), str)
                    and isinstance(v.get("boot"), int) and isinstance(v.get("number"), int)
                    and isinstance(v.get("read_at"), (int, float))}
        except (OSError, ValueError) as e:  # a replay after a crash is then acted on again, as before this file
            log.warning("cannot read the press journal %s (%s); starting a new one", self.path, e)
            return {}

    def key(self, device_id: str, bus: str, address: int, boot: int, number: int) -> PressKey:
        """The key of the press ``(boot, number)`` just read from ``device_id``, written down before it is used."""
        now = time.time()
        with self._lock:
            last = self._entries.get(device_id)
            if number and last is not None and (last["boot"], last["number"]) == (boot, number):
                log.info("%s: press no. %d (boot %d) read again after a restart: replayed with its first key",
                         device_id, number, boot)
                return PressKey(last["key"], float(last["read_at"]), replay=True)
            key = press_key(self.gateway_id, bus, address, boot, number, secrets.token_hex(4))
            self._entries[device_id] = {"boot": boot, "number": number, "key": key, "read_at": now}
            self._save()
        return PressKey(key, now)

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "gateway": self.gateway_id, "devices": self._entries}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:  # the press is still acted on (once, unless the gateway dies before its ack)
            log.warning("cannot write the press journal %s: %s", self.path, e)


def press_key(gateway_id: str, bus: str, address: int, boot: int, number: int, nonce: str) -> str:
    """``hq-press:<gateway>:<bus>:<address>:<boot>.<number>:<nonce>``, at most :data:`MAX_KEY` characters."""
    where = f"{gateway_id}:{bus}"
    key = f"hq-press:{where}:{address}:{boot}.{number}:{nonce}"
    if len(key) > MAX_KEY:  # long ids (40 characters each at most): the gateway and bus as a digest
        where = hashlib.sha256(where.encode()).hexdigest()[:16]
        key = f"hq-press:{where}:{address}:{boot}.{number}:{nonce}"
    return key
