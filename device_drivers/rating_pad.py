"""The rating pad (评价器) facing the resident at a window: five keys and a small display.

The five levels are those of GB/T 39734-2020 (好差评): 5 非常满意, 4 满意,
3 基本满意, 2 不满意, 1 非常不满意; the bottom two are bad reviews. A press
becomes ``POST /windows/{n}/rating {"level": …}`` with the gateway's
device key; the server rates the service that window finished last.
The pad only ever reports what the resident pressed: staff can ask it to
prompt (``PROMPT``), never press for the resident.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from device_drivers import frames as F
from device_drivers.hallq_bus import DeviceInfo, HallqLine, PolledDevice

log = logging.getLogger("hallq.devices.rating_pad")

LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


@dataclass(frozen=True)
class RatingPress:
    level: int  # 1..5
    number: int = 0  # the pad's event number, 1-255 wrapping (0: the protocol numbers none)
    boot: int = field(default=0, compare=False)  # the pad's boot id when pressed: (boot, number) names the press


class RatingPad(ABC):
    """A window's rating pad as the gateway drives it (all calls may raise DeviceError)."""

    kind = "rating_pad"

    @abstractmethod
    def identify(self) -> DeviceInfo:
        """Ask the pad who it is (a health probe)."""

    @abstractmethod
    def poll(self) -> RatingPress | None:
        """The next rating pressed and not yet seen, or None (each press is returned once)."""

    @abstractmethod
    def prompt(self, seconds: int, text: str) -> None:
        """Light the keys and ask the resident to rate, for ``seconds``."""

    @abstractmethod
    def display(self, line: int, text: str, beep: bool = False) -> None:
        """Show ``text`` on the pad's display line 1 or 2."""

    def acknowledge(self) -> None:
        """The gateway stops having handled the last rating :meth:`poll` returned: tell the pad, without
        taking a new press (a protocol without acknowledgements has nothing to do)."""

    def close(self) -> None:
        """Release what this driver holds."""


class HallqRatingPad(PolledDevice, RatingPad):
    """A rating pad speaking the hallq protocol at ``address``: keys '1'-'5' are the levels."""

    expected_type = "rating_pad"

    def __init__(self, line: HallqLine, address: int, encoding: str = "gb18030") -> None:
        super().__init__(line, address, encoding)

    def poll(self) -> RatingPress | None:
        event = self.poll_raw()
        if event is None:
            return None
        if event.key not in "12345" or len(event.key) != 1:
            log.warning("rating pad at address %d sent an unknown key %r; ignored — check its model and firmware",
                        self.address, event.key)
            return None
        return RatingPress(level=int(event.key), number=event.number, boot=event.boot)

    def prompt(self, seconds: int, text: str) -> None:
        data = bytes((min(max(int(seconds), 1), 255),)) + F.encode_text(text, self.encoding, F.MAX_DATA - 1)
        self.line.transact(self.address, F.PROMPT, data)


PROTOCOLS: dict[str, type[RatingPad]] = {"hallq": HallqRatingPad}
