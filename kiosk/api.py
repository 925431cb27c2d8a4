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
    """The Idempotency-Key of one confirm press.

    A press whose answer never came (the server unreachable, the automatic retry running) may have been done by
    the server. When the resident leaves it (返回, 首页) its key is held (:meth:`leave`): the identical request
    later in the visit goes out with the same key, so the server answers with what it did the first time instead
    of doing it again. The idle wipe (the visit is over) forgets it (:meth:`forget`).
    """

    def __init__(self) -> None:
        self._key: str | None = None
        self._digest: str | None = None
        self._held: dict[str, str] = {}     # digest of a request left while its answer was unknown -> its key

    def for_body(self, body: dict[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        if self._key is None or digest != self._digest:
            self._key, self._digest = self._held.get(digest) or uuid.uuid4().hex, digest
        return self._key

    def done(self) -> None:
        """The press succeeded or was refused: the next press is a new request."""
        if self._digest is not None:
            self._held.pop(self._digest, None)
        self._key = self._digest = None

    def leave(self) -> None:
        """The resident left this press while its answer was unknown: its key is held for the identical request."""
        if self._key is not None and self._digest is not None:
            self._held[self._digest] = self._key
        self._key = self._digest = None

    def forget(self) -> None:
        """The visit is over: nothing of it is kept for the next resident."""
        self._held.clear()
        self._key = self._digest = None

    @property
    def pending(self) -> bool:
        return self._key is not None

    @property
    def held(self) -> bool:
        """A press left while its answer was unknown is remembered (see :meth:`leave`)."""
        return bool(self._held)


class KioskApi:
    """The server calls of the kiosk's screens."""

    def __init__(self, client: HallClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, server_url: str, device_key: str, timeout: float = 5.0) -> "KioskApi":
        # retries=1: the kiosk's own retry loop (with the same key) takes over after that, showing a message
        return cls(HallClient(server_url, token=device_key, timeout=timeout, retries=1))

    # -- reads -------------------------------------------------------------------------
    def hall(self) -> dict:
        return self.client.get("/hall")

    def businesses(self) -> list[dict]:
        return self.client.get("/businesses")

    def items(self, business: str | None = None) -> list[dict]:
        return self.client.get("/items" + (f"?{urlencode({'business': business})}" if business else ""))

    def search_items(self, q: str, limit: int = 20) -> list[dict]:
        """Items matching what the resident typed (社保, yl, yanglao), best first (GET /items?q=)."""
        return self.client.get("/items?" + urlencode({"q": q, "limit": limit}))

    def item(self, code: str) -> dict:
        return self.client.get(f"/items/{quote(code, safe='')}")

    def routed_items(self) -> list[dict]:
        """就近办 across halls: the items this station accepts for the hall that handles them (GET /routed-items)."""
        return self.client.get("/routed-items")

    def nearby(self, business: str) -> dict:
        """就近办: nearby halls of the county for ``business``, from the hall's cache of the county platform."""
        return self.client.get(f"/nearby?{urlencode({'business': business})}")

    def windows(self) -> list[dict]:
        return self.client.get("/windows")

    def ticket(self, public_id: str, retry: bool | None = None) -> dict:
        return self.client.request("GET", f"/tickets/{quote(public_id, safe='')}", retry=retry)

    # -- tickets -----------------------------------------------------------------------
    def issue_ticket(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/tickets", body, idempotency_key=key)

    def requeue(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/tickets/requeue", body, idempotency_key=key)

    def rate(self, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", "/ratings", body, idempotency_key=key)

    def request_help(self) -> dict:
        """找工作人员帮忙: every console shows it until a clerk takes it (asking again returns the same)."""
        return self.client.request("POST", "/help-requests", {}, retry=True)  # safe to repeat: one open per kiosk

    def help_request(self, request_id: int) -> dict:
        """Has a clerk taken this kiosk's help request? (``state`` open / taken / expired)"""
        return self.client.get(f"/help-requests/{int(request_id)}")

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
        # the ID number goes in a header: query strings end up in access logs and proxies
        return self.client.request("GET", "/applications", headers={"X-Id-Number": id_number})

    # -- 一件事 packages -----------------------------------------------------------------
    def packages(self) -> list[dict]:
        return self.client.get("/packages")

    def package(self, code: str) -> dict:
        return self.client.get(f"/packages/{quote(code, safe='')}")

    def file_package(self, code: str, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", f"/packages/{quote(code, safe='')}/applications", body, idempotency_key=key)

    def collect_result(self, tracking_no: str, body: dict[str, Any], key: str) -> dict:
        """领取结果: a number for the 出件 window (an application's or a package's number, the applicant's card)."""
        return self.client.request("POST", f"/applications/{quote(tracking_no, safe='')}/collect", body,
                                   idempotency_key=key)

    def supplement_package(self, tracking_no: str, body: dict[str, Any], key: str) -> dict:
        return self.client.request("POST", f"/packages/applications/{quote(tracking_no, safe='')}/supplement", body,
                                   idempotency_key=key)
