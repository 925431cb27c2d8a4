"""The kiosk's devices together: built from kiosk.toml, printed to, checked, and reported to staff.

A printer problem never costs a resident their number: :meth:`KioskDevices.print_job`
returns what went wrong instead of raising, the screen shows and speaks the
number, and the problem goes out at once as device health over MQTT
(``hallq/<site>/devices/<kiosk id>/<id>/health``, retained) so the staff console shows
"kiosk-1 printer: paper_out". Health is also checked every
``health_interval_seconds`` (paper near end, reader unplugged).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from device_drivers.base import DeviceError, HealthReporter
from device_drivers.factory import build_printer, build_reader, build_scanner
from device_drivers.id_reader import IdCardReader
from device_drivers.printer import PrinterProfile, TicketPrinter
from device_drivers.scanner import Scanner
from kiosk.config import KioskConfig
from kiosk.voice import NoVoice, Voice, build_voice

log = logging.getLogger("hallq.kiosk.devices")


WARNINGS = ("no_status", "paper_near_end")   # told to staff, but the device still works


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    problem: str | None = None       # paper_out, jammed, unplugged, none (no printer)...
    warning: str | None = None       # paper_near_end, no_status


class KioskDevices:
    def __init__(self, kiosk_id: str, printer: TicketPrinter | None = None, reader: IdCardReader | None = None,
                 scanner: Scanner | None = None, voice: Voice | None = None) -> None:
        self.kiosk_id = kiosk_id
        self.printer = printer
        self.reader = reader
        self.scanner = scanner
        self.voice = voice or NoVoice()
        self.reporter: HealthReporter | None = None
        self.health: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: KioskConfig) -> "KioskDevices":
        """Build every device named in the config; a bad device section raises DeviceError (bad_config)."""
        def name(kind: str) -> str:
            return f"{cfg.id}-{kind}"

        printer = None if cfg.printer.driver == "none" else \
            build_printer(cfg.printer.driver, ident=name("printer"), **cfg.printer.options)
        reader = None if cfg.id_reader.driver == "none" else \
            build_reader(cfg.id_reader.driver, ident=name("id-reader"), **cfg.id_reader.options)
        scanner = None if cfg.scanner.driver == "none" else \
            build_scanner(cfg.scanner.driver, ident=name("scanner"), **cfg.scanner.options)
        voice = build_voice(cfg.voice.driver, **cfg.voice.options) if cfg.speak else NoVoice()
        return cls(cfg.id, printer, reader, scanner, voice)

    @property
    def profile(self) -> PrinterProfile:
        return self.printer.profile if self.printer is not None else PrinterProfile()

    @property
    def simulated(self) -> dict[str, bool]:
        """Which devices are simulators (the screen then offers demo buttons, clearly labelled)."""
        def sim(d) -> bool:
            return d is not None and type(d).__module__.startswith("device_drivers.sim_")
        return {"printer": sim(self.printer), "id_reader": sim(self.reader), "scanner": sim(self.scanner)}

    # -- printing -----------------------------------------------------------------------

    def print_job(self, data: bytes) -> PrintOutcome:
        """Print; never raises. A failure is reported to staff at once."""
        if self.printer is None:
            return PrintOutcome(False, "none")
        try:
            status = self.printer.print_job(data)
        except DeviceError as e:
            log.warning("printing failed: %s", e)
            self._report("printer", "printer", [e.code], {"message": e.message, "fix": e.fix})
            return PrintOutcome(False, e.code)
        except Exception as e:   # a driver bug must not cost the resident their number
            log.exception("printing failed unexpectedly")
            self._report("printer", "printer", ["printer_error"], {"message": str(e)[:200]})
            return PrintOutcome(False, "printer_error")
        self._report("printer", "printer", status.problems, status.detail)
        warning = next((p for p in status.problems if p in WARNINGS), None)
        return PrintOutcome(True, warning=warning)

    def print_document(self, build) -> PrintOutcome:
        """Build a job (``build()``: its ESC/POS bytes) and print it; never raises. A job that cannot be built
        (a QR payload the printer cannot encode, a bug) is a print problem like any other (``printer_error``),
        told to staff: the resident still has the number on the screen."""
        if self.printer is None:
            return PrintOutcome(False, "none")
        try:
            job = build()
        except Exception as e:
            log.exception("the print job could not be built")
            self._report("printer", "printer", ["printer_error"], {"message": f"the job could not be built: {e}"[:200]})
            return PrintOutcome(False, "printer_error")
        return self.print_job(job)

    # -- health -------------------------------------------------------------------------

    def attach(self, reporter: HealthReporter) -> None:
        """Report health over MQTT from now on (and everything known so far)."""
        self.reporter = reporter
        with self._lock:
            known = dict(self.health)
        for key, problems in known.items():
            kind = {"printer": "printer", "id-reader": "id_reader", "scanner": "scanner", "audio": "audio"}[key]
            reporter.report(f"{self.kiosk_id}-{key}", kind, not problems, problems)

    def _report(self, key: str, kind: str, problems: list[str], detail: dict | None = None) -> None:
        with self._lock:
            self.health[key] = list(problems)
        if self.reporter is not None:
            ok = not [p for p in problems if p not in WARNINGS]
            self.reporter.report(f"{self.kiosk_id}-{key}", kind, ok, problems, detail)

    def check_health(self) -> dict[str, list[str]]:
        """Ask every device how it is; report and return {device: problems}."""
        if self.printer is not None:
            try:
                st = self.printer.status()
                self._report("printer", "printer", st.problems, st.detail)
            except DeviceError as e:
                self._report("printer", "printer", [e.code], {"message": e.message, "fix": e.fix})
        if self.reader is not None:
            rs = self.reader.status()
            self._report("id-reader", "id_reader", rs.problems, rs.detail)
        if self.scanner is not None:
            ss = self.scanner.status()
            self._report("scanner", "scanner", ss.problems, ss.detail)
        if not isinstance(self.voice, NoVoice):
            self._report("audio", "audio", list(self.voice.problems))
        with self._lock:
            return dict(self.health)

    def printer_problem(self) -> str | None:
        """The last known blocking printer problem (for a warning on the home screen), or None."""
        with self._lock:
            problems = self.health.get("printer", [])
        return next((p for p in problems if p not in WARNINGS), None)

    def close(self) -> None:
        for d in (self.printer, self.reader, self.scanner, self.voice):
            if d is not None:
                try:
                    d.close()
                except Exception:
                    log.exception("closing a device failed")
