"""The call keypad (呼叫器) on a window's desk: its keys, and the driver that reads them.

A keypad has digit keys (0-9, ``*``), function keys and a two-line LCD
(8 Chinese characters per line). Digits are typed first and travel with
the function key that follows (the keypad shows them while they are
typed; its own C key clears them), e.g. ``1 2 转移`` = transfer to window 12.

=========  ====  ===========================  ===============================================
key        byte  action (POST /windows/{n}/)  digits typed before it
=========  ====  ===========================  ===============================================
叫号       N     call-next                    —
重呼       R     recall                       —
开始办理   S     start                        —
办结       C     complete                     —
过号       X     no-show                      —
转移       T     transfer                     window number; ``*k`` = the hall's k-th business
挂起       H     hold                         —
回呼       B     call-back                    the held ticket's number (e.g. 12 = A012);
                                              none = the longest-held one
暂停       P     pause                        reason no. (1 午休, 2 临时离开, … configurable)
恢复       U     resume                       —
请评价     E     (asks the window's rating pad to prompt the resident)
=========  ====  ===========================  ===============================================

:class:`CallKeypad` is the interface; :class:`HallqKeypad` the hallq serial
driver. A keypad acts for whoever is signed in at its window (the server
refuses its keys when nobody is).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from device_drivers.hallq_bus import DeviceInfo, HallqLine, PolledDevice

log = logging.getLogger("hallq.devices.keypad")

KEYS = {
    "N": "call_next", "R": "recall", "S": "start", "C": "complete", "X": "no_show", "T": "transfer",
    "H": "hold", "B": "call_back", "P": "pause", "U": "resume", "E": "ask_rating",
}
KEY_BYTES = {name: code for code, name in KEYS.items()}
KEY_LABELS = {"call_next": "叫号", "recall": "重呼", "start": "开始办理", "complete": "办结", "no_show": "过号",
              "transfer": "转移", "hold": "挂起", "call_back": "回呼", "pause": "暂停", "resume": "恢复",
              "ask_rating": "请评价"}
ARG_CHARS = "0123456789*"
MAX_ARGS = 16


@dataclass(frozen=True)
class KeyPress:
    """A function key pressed on a keypad, with the digits typed before it."""

    action: str  # a value of KEYS
    digits: str = ""
    number: int = 0  # the keypad's event number, 1-255 wrapping (0: the protocol numbers none)
    boot: int = field(default=0, compare=False)  # the keypad's boot id when pressed: (boot, number) names the press


class CallKeypad(ABC):
    """A window's call keypad as the gateway drives it (all calls may raise DeviceError)."""

    kind = "keypad"

    @abstractmethod
    def identify(self) -> DeviceInfo:
        """Ask the keypad who it is (a health probe)."""

    @abstractmethod
    def poll(self) -> KeyPress | None:
        """The next key press not yet seen, or None. A press is returned once, however often it is sent."""

    @abstractmethod
    def display(self, line: int, text: str, beep: bool = False) -> None:
        """Show ``text`` on LCD line 1 or 2 (long texts scroll on the keypad)."""

    def acknowledge(self) -> None:
        """The gateway stops having handled the last press :meth:`poll` returned: tell the keypad, without
        taking a new press (a protocol without acknowledgements has nothing to do)."""

    def close(self) -> None:
        """Release what this driver holds."""


class HallqKeypad(PolledDevice, CallKeypad):
    """A call keypad speaking the hallq protocol at ``address`` on a serial line."""

    expected_type = "keypad"

    def __init__(self, line: HallqLine, address: int, encoding: str = "gb18030") -> None:
        super().__init__(line, address, encoding)
        self.unknown_keys = 0

    def poll(self) -> KeyPress | None:
        event = self.poll_raw()
        if event is None:
            return None
        action = KEYS.get(event.key)
        digits = "".join(ch for ch in event.args if ch in ARG_CHARS)
        if action is None or digits != event.args:
            self.unknown_keys += 1
            log.warning(
                "keypad at address %d sent an unknown key %r (digits %r); ignored — check the keypad's model "
                "and firmware", self.address, event.key, event.args)
            return None
        return KeyPress(action=action, digits=digits, number=event.number, boot=event.boot)


PROTOCOLS: dict[str, type[CallKeypad]] = {"hallq": HallqKeypad}
