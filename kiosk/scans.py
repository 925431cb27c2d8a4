"""What a scanned code is: a ticket's QR, a booking QR or code, an application receipt.

Only codes of this hall's own formats are accepted; anything else (a
payment code, a product barcode) is "unknown" and the screen says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

BOOKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"   # the server's unambiguous alphabet (no 0/O, 1/I/L, U)
_CODE = re.compile(f"[{BOOKING_ALPHABET}]{{8}}")
_TRACKING = re.compile(rf"SQ\d{{8}}-[{BOOKING_ALPHABET}]{{8}}")
_TICKET_PATH = re.compile(r"/t/([A-Za-z0-9_-]{6,40})/?$")
_TICKET_LABEL = re.compile(r"[A-Z]{1,2}\d{3,4}")


@dataclass(frozen=True)
class Scan:
    kind: str      # ticket | appointment | application
    value: str     # public ticket id | booking code | tracking number


def normalise_code(raw: str) -> str | None:
    """A booking code typed or scanned, in canonical form (upper case, no spaces or hyphens)."""
    s = raw.strip().upper()
    if s.startswith("HALLQ-APPT:"):
        s = s[len("HALLQ-APPT:"):]
    s = s.replace(" ", "").replace("-", "")
    return s if _CODE.fullmatch(s) else None


def normalise_tracking(raw: str) -> str | None:
    s = raw.strip().upper().replace(" ", "")
    if len(s) == 18 and s.startswith("SQ") and "-" not in s:
        s = s[:10] + "-" + s[10:]
    return s if _TRACKING.fullmatch(s) else None


def normalise_ticket_label(raw: str) -> str | None:
    s = raw.strip().upper().replace(" ", "")
    return s if _TICKET_LABEL.fullmatch(s) else None


def parse_scan(text: str) -> Scan | None:
    """Classify a scanned code; None when it is none of this hall's codes."""
    t = text.strip()
    if t.upper().startswith("HALLQ-APPT:"):
        code = normalise_code(t)
        return Scan("appointment", code) if code else None
    if t.lower().startswith(("http://", "https://")):
        try:
            path = urlsplit(t).path
        except ValueError:  # "http://[x": not a URL at all (an unclosed IPv6 host), so none of ours
            return None
        m = _TICKET_PATH.search(path)
        return Scan("ticket", m.group(1)) if m else None
    tracking = normalise_tracking(t)
    if tracking:
        return Scan("application", tracking)
    code = normalise_code(t)
    if code:
        return Scan("appointment", code)
    return None
