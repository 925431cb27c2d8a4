"""The HTTP client of the queue server's API, for kiosks, devices, tools and tests.

Standard library only (``http.client``), one keep-alive connection per
thread. Requests that change state carry an ``Idempotency-Key`` and are
retried on connection failures and 502/503/504s with the *same* key, so a
kiosk whose network hiccups never issues two numbers for one press; the
server answers a retry with the first response.

Errors come back as :class:`ApiError` with the server's code and its
message in the three languages; a server that cannot be reached raises
:class:`Unreachable` (a subclass), which a kiosk turns into "please wait,
reconnecting" rather than a crash. So does an answer that says the server
is not there now: 502, 503 and 504 (a reverse proxy's "bad gateway" while
the server restarts, its "gateway time-out" when the server was slow, which
may come after the server did the work), and any 5xx that is not JSON (a
proxy's or a crashed worker's HTML page). Those keep their ``status`` (and
a JSON 503's ``code``, e.g. ``busy``), so a caller can still tell them
apart; ``code`` is ``unreachable`` otherwise.

>>> hall = HallClient("http://127.0.0.1:8080", token="demo-kiosk-1")
>>> hall.issue_ticket("social", id_number="110105194912310024")["ticket"]
'C001'
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from hallq.i18n import texts

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # the default cap of an answer's body: far over any answer of the hall's API


class ApiError(Exception):
    """An error answer of the API (the one error shape), or no answer at all."""

    def __init__(self, status: int, code: str, messages: dict[str, str], fields: list | None = None,
                 detail: dict | None = None) -> None:
        super().__init__(f"{status} {code}: {messages.get('en', '')}")
        self.status = status
        self.code = code
        self.messages = messages
        self.fields = fields or []
        self.detail = detail or {}

    def message(self, lang: str = "zh-Hans") -> str:
        return self.messages.get(lang) or self.messages.get("zh-Hans") or self.messages.get("en", "")


class AnswerTooLarge(ApiError):
    """An answer longer than the client's ``max_answer_bytes``: not read on (code ``answer_too_large``)."""

    def __init__(self, status: int, limit: int, size: int | None) -> None:
        said = f"{size} bytes" if size is not None else "more"
        super().__init__(status, "answer_too_large",
                         {"en": f"the server's answer ({said}) is over this client's limit of {limit} bytes"},
                         detail={"limit": limit, "size": size})


class Unreachable(ApiError):
    """No usable answer now: no connection (``status`` 0), or 502/503/504 or a 5xx that is not JSON (its status,
    and the server's code and messages when it gave its own JSON error). Retry with the same Idempotency-Key."""

    def __init__(self, cause: str, status: int = 0, code: str = "unreachable",
                 messages: dict[str, str] | None = None) -> None:
        super().__init__(status, code, messages or texts("error.unreachable"), detail={"cause": cause})


NOT_THERE = (502, 503, 504)  # a proxy's bad gateway and time-out, the server's own "busy": the server is not there now


class HallClient:
    """The hall's HTTP API as a client: kiosks, the gateway, the simulator and the tests.

    Over HTTPS it verifies the server against ``ca_file`` (the hall's own CA,
    ``hallq tls``; default ``$HALLQ_CA_FILE``, else the system's CAs).
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 5.0, retries: int = 3,
                 lang: str = "zh-Hans", ca_file: str | None = None, connect_timeout: float | None = None,
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        """``timeout``: each read or write of an answer; ``connect_timeout`` (default ``timeout``): reaching the
        server at all, shorter where an unreachable server must not hold the caller (a cut line loses the SYN).
        ``max_answer_bytes``: a longer answer is not read on (:class:`AnswerTooLarge`, not retried): a server that
        is not ours (a hall's, seen from the county platform) cannot fill the caller's memory."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"server URL {base_url!r} must look like http://host:port")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self.retries = retries
        self.lang = lang
        self.max_answer_bytes = max_answer_bytes
        self._local = threading.local()
        self._ssl = None
        if self._https:
            import os
            import ssl

            self._ssl = ssl.create_default_context(cafile=ca_file or os.environ.get("HALLQ_CA_FILE") or None)

    # -- transport ---------------------------------------------------------------------

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            if self._https:
                c = http.client.HTTPSConnection(self._host, self._port, timeout=self.connect_timeout,
                                                context=self._ssl)
            else:
                c = http.client.HTTPConnection(self._host, self._port, timeout=self.connect_timeout)
            self._local.conn = c
        return c

    def _drop(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    def request(self, method: str, path: str, body: dict | None = None, idempotency_key: str | None = None,
                retry: bool | None = None, headers: dict[str, str] | None = None) -> Any:
        """One API call; ``path`` is under /api/v1. Returns the decoded JSON answer.

        ``headers``: extra request headers (e.g. personal data that must not go in a URL).
        """
        headers = {"Accept": "application/json", "Accept-Language": self.lang, **(headers or {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        safe = method == "GET" or idempotency_key is not None
        attempts = 1 + (self.retries if (safe if retry is None else retry) else 0)
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(0.2 * 2 ** attempt, 2.0) * (0.5 + random.random()))
            try:
                conn = self._conn()
                if conn.sock is None:  # connect within connect_timeout, then read and write within timeout
                    conn.connect()
                    conn.sock.settimeout(self.timeout)
                conn.request(method, f"{self._prefix}/api/v1{path}", body=data, headers=headers)
                resp = conn.getresponse()
                raw = self._read(resp)
                status = resp.status
            except AnswerTooLarge:
                self._drop()  # the rest of the answer is left unread: the connection cannot serve another request
                raise
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                last = f"{e.__class__.__name__}: {e}"
                continue
            gone = self._not_there(status, raw)
            if gone is not None and attempt + 1 < attempts:
                last = gone.detail["cause"]
                continue
            if gone is not None:
                raise gone
            return self._decode(status, raw)
        raise Unreachable(last)

    @staticmethod
    def _not_there(status: int, raw: bytes) -> Unreachable | None:
        """An answer that means the server is not there now (see the module's docstring), as :class:`Unreachable`;
        None for any other answer."""
        if status < 500:
            return None
        if not raw.strip():
            return Unreachable(f"{status} with no body", status)
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            return Unreachable(f"{status} with non-JSON", status)
        if status not in NOT_THERE:
            return None
        err = payload.get("error") if isinstance(payload, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        messages = err.get("messages") if isinstance(err, dict) else None
        return Unreachable(f"{status} {code or 'busy'}", status, code if isinstance(code, str) else "unreachable",
                           messages if isinstance(messages, dict) and messages else None)

    def _read(self, resp: http.client.HTTPResponse) -> bytes:
        """The answer's body, up to ``max_answer_bytes``: a longer one (said in its Content-Length, or found
        reading one byte past the limit) raises :class:`AnswerTooLarge` without being read on."""
        limit = self.max_answer_bytes
        if resp.length is not None and resp.length > limit:  # its Content-Length, as http.client read it
            raise AnswerTooLarge(resp.status, limit, resp.length)
        raw = resp.read(limit + 1)
        if len(raw) > limit:
            raise AnswerTooLarge(resp.status, limit, None)
        return raw

    @staticmethod
    def _decode(status: int, raw: bytes) -> Any:
        try:
            payload = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
            raise ApiError(status, "bad_response", {"en": f"the server answered {status} with non-JSON"}) from None
        if status >= 400:
            err = payload.get("error", {}) if isinstance(payload, dict) else {}
            err = err if isinstance(err, dict) else {}  # {"error": "text"}: another server's shape, not ours
            code, messages = err.get("code", "error"), err.get("messages")
            raise ApiError(status, code if isinstance(code, str) else "error",
                           messages if isinstance(messages, dict) else {"en": str(payload)[:500]},
                           err.get("fields") if isinstance(err.get("fields"), list) else None,
                           err.get("detail") if isinstance(err.get("detail"), dict) else None)
        return payload

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict | None = None, idempotent: bool = False) -> Any:
        key = uuid.uuid4().hex if idempotent else None
        return self.request("POST", path, body or {}, idempotency_key=key)

    # -- the domain, for readability at call sites ----------------------------------------

    def health(self) -> dict:
        return self.get("/health")

    def hall(self) -> dict:
        return self.get("/hall")

    def businesses(self) -> list[dict]:
        return self.get("/businesses")

    def item(self, code: str) -> dict:
        return self.get(f"/items/{quote(code, safe='')}")

    def board(self) -> dict:
        return self.get("/board")

    def ticket(self, public_id: str) -> dict:
        return self.get(f"/tickets/{quote(public_id, safe='')}")

    def login(self, job_no: str, password: str) -> dict:
        result = self.request("POST", "/auth/login", {"job_no": job_no, "password": password})
        self.token = result["token"]
        return result

    def issue_ticket(self, business: str, item: str | None = None, id_number: str | None = None,
                     phone: str | None = None, green_reason: str | None = None,
                     idempotency_key: str | None = None) -> dict:
        body: dict[str, Any] = {"business": business}
        for k, v in (("item", item), ("id_number", id_number), ("phone", phone), ("green_reason", green_reason)):
            if v is not None:
                body[k] = v
        return self.request("POST", "/tickets", body, idempotency_key=idempotency_key or uuid.uuid4().hex)

    def window_action(self, number: int, action: str, body: dict | None = None, idempotent: bool = False) -> dict:
        """``action``: sign-in, sign-out, call-next, recall, start, complete, no-show, transfer, hold,
        call-back, pause, resume, open, close."""
        return self.post(f"/windows/{int(number)}/{action}", body, idempotent=idempotent)

    def call_next(self, number: int, complete_current: bool = False) -> dict:
        return self.window_action(number, "call-next", {"complete_current": complete_current}, idempotent=True)

    def close(self) -> None:
        self._drop()


_EPHEMERAL_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
_given: set[int] = set()
_given_lock = threading.Lock()
_chooser = random.Random()  # its own generator: a test that seeds `random` must not make two processes agree


def _quiet_range() -> tuple[int, int] | None:
    """The widest span of ports the kernel never hands to an outgoing connection or a bind to port 0, or None
    when its ephemeral range leaves none worth using."""
    try:
        lo, hi = (int(x) for x in open(_EPHEMERAL_FILE, encoding="ascii").read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999  # Linux's default
    spans = [(10000, lo - 1), (hi + 1, 65535)]
    best = max(spans, key=lambda span: span[1] - span[0])
    return best if best[1] - best[0] >= 2000 else None


def free_ports(n: int) -> list[int]:
    """``n`` different TCP ports free on 127.0.0.1 right now, for tests and benchmarks that start a server
    on them a moment later.

    They are taken from outside the kernel's ephemeral range: a port from ``bind(0)`` is also what the
    kernel hands to the next outgoing connection, so between choosing it and a server binding it (seconds
    on a busy machine) any client could take it, and the server would fail with "address in use". A port
    is never given twice in one process while others are left."""
    span = _quiet_range()
    if span is None:
        return _kernel_ports(n)
    ports: list[int] = []
    with _given_lock:
        for _ in range(n):
            for _attempt in range(200):
                p = _chooser.randint(*span)
                if p in _given or p in ports:
                    continue
                if _bindable(p):
                    ports.append(p)
                    break
            else:
                _given.clear()  # a long session used the span up: start again
                ports.extend(q for q in _kernel_ports(1) if q not in ports)
        _given.update(ports)
    return ports


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (see :func:`free_ports`)."""
    return free_ports(1)[0]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _kernel_ports(n: int) -> list[int]:
    """``n`` different ports from the kernel's ephemeral range, held together while chosen."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
