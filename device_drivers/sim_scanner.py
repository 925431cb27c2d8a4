"""Scanner simulators: in-process (``driver = "simulator"``) and a serial scanner on a pseudo-terminal."""

from __future__ import annotations

import os
import tty

from device_drivers.scanner import QueueScanner


class ScannerSimulator(QueueScanner):
    """A simulated scanner: :meth:`scan` is a code passing under the scanner's light."""

    def __init__(self, name: str = "scanner-sim") -> None:
        super().__init__(name)

    def scan(self, code: bytes | str) -> bool:
        """Scan ``code``; returns False when it would be dropped (empty, too long, control characters)."""
        return self._deliver(code)


class PtyScanner:
    """A serial scanner at the end of a pseudo-terminal; ``path`` goes to ``SerialScanner``."""

    def __init__(self, terminator: bytes = b"\r\n") -> None:
        self.terminator = terminator
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)

    def scan(self, code: bytes | str) -> bool:
        data = code.encode("utf-8") if isinstance(code, str) else code
        os.write(self._master, data + self.terminator)
        return True

    def inject(self, data: bytes) -> None:
        """Raw bytes on the line (noise, half a code)."""
        os.write(self._master, data)

    def close(self) -> None:
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
