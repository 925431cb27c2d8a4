"""What the kiosk asks the queue server, one method per call (docs/api.md, brief KIOSK_API.md).

A thin layer over :class:`hallq.client.HallClient`, which already retries
with the same ``Idempotency-Key``. :class:`PressKey` adds the kiosk's rule:
one key per *confirm press*, kept across automatic retries of that press
(even minutes later, after the network came back), and a new one only when
the resident changes what is asked. So a resident pressing "take a number"
during a network cut gets exactly one number, whatever happens.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from hallq.client import HallClient


class PressKey:
    """The Idempotency-Key of one confirm press."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._digest: str | None = None

    def for_body(self, body: dict[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        if self._key is None or digest != self._digest:
            self._key, self._digest = uuid.uuid4().hex, digest
        return self._key

    def done(self) -> None:
        """The press succeeded (or was abandoned): the next press is a new request."""
        self._key = self._digest = None

    @property
    def pending(self) -> bool:
        return self._key is not None


class _HeaderConnection:
    """Adds headers to every request of one HTTP connection (see KioskClient.get_private)."""

    def __init__(self, conn, extra: dict[str, str]) -> None:
        self._conn, self._extra = conn, extra

    def request(self, method, url, body=None, headers=None):
        return self._conn.request(method, url, body=body, headers={**(headers or {}), **self._extra})

    def __getattr__(self, name):
        return getattr(self._conn, name)


class KioskClient(HallClient):
    """HallClient plus GETs that carry personal data in a header instead of the URL.

    Query strings end up in access logs and proxies; an ID number must not.
    (A ``headers=`` argument on HallClient.request would make this class unnecessary.)
    """

    def _conn(self):
        conn = super()._conn()
        extra = getattr(self._local, "extra", None)
        return _HeaderConnection(conn, extra) if extra else conn

    def get_private(self, path: str, headers: dict[str, str]) -> Any:
        self._local.extra = headers
        try:
            return self.get(path)
        finally:
            self._local.extra = None


class KioskApi:
    """The server calls of the kiosk's screens."""

    def __init__(self, client: HallClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, server_url: str, device_key: str, timeout: float = 5.0) -> "KioskApi":
        # retries=1: the kiosk's own retry loop (with the same key) takes over after that, showing a message
        return cls(KioskClient(server_url, token=device_key, timeout=timeout, retries=1))

    # -- reads -------------------------------------------------------------------------
    def hall(self) -> dict:
        return self.client.get("/hall")

    def businesses(self) -> list[dict]:
        return self.client.get("/businesses")

    def items(self, business: str | None = None) -> list[dict]:
        return self.client.get("/items" + (f"?{urlencode({'business': business})}" if business else ""))

    def item(self, code: str) -> dict:
        return self.client.get(f"/items/{quote(code, safe='')}")

    def windows(self) -> list[dict]:
        return self.client.get("/windows")

    def ticket(self, public_id: str) -> dict:
        return self.client.get(f"/tickets/{quote(public_id, safe='')}")

    # -- tickets -----------------------------------------------------------------------
    def issue_ticket(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/tickets", body, idempotency_key=key)

    def requeue(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/tickets/requeue", body, idempotency_key=key)

    def rate(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/ratings", body, idempotency_key=key)

    # -- appointments -----------------------------------------------------------------
    def slots(self, item: str) -> dict:
        return self.client.get(f"/appointments/slots?{urlencode({'item': item})}")

    def book(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/appointments", body, idempotency_key=key)

    def appointment(self, code: str) -> dict:
        return self.client.get(f"/appointments/{quote(code, safe='')}")

    def cancel_appointment(self, code: str, id_number: str, key: str) -> dict:
        return self.client.request("POST", f"/appointments/{quote(code, safe='')}/cancel", {"id_number": id_number},
                                   idempotency_key=key)

    def check_in(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/appointments/check-in", body, idempotency_key=key)

    # -- applications -----------------------------------------------------------------
    def form(self, item: str) -> dict:
        return self.client.get(f"/items/{quote(item, safe='')}/form")

    def submit_application(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/applications", body, idempotency_key=key)

    def supplement(self, tracking_no: str, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", f"/applications/{quote(tracking_no, safe='')}/supplement", body,
                                   idempotency_key=key)

    def application(self, tracking_no: str) -> dict:
        return self.client.get(f"/applications/{quote(tracking_no, safe='')}")

    def find_applications(self, id_number: str) -> list[dict]:
        if isinstance(self.client, KioskClient):
            return self.client.get_private("/applications", {"X-Id-Number": id_number})
        return self.client.get(f"/applications?{urlencode({'id_number': id_number})}")
