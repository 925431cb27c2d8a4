"""Thousands of malformed requests, generated from the OpenAPI document, against a real server.

Where ``test_api_fuzz`` lets schemathesis invent requests, this corpus is
written out by kind, so every kind reaches every place it could hide
(issue 11): lone surrogates (``"\\ud800"``: valid JSON, no Unicode text),
NUL, nesting 40 to 30,000 deep, integers beyond 64 bits and of 5,000 digits,
NaN and Infinity, a name given twice, wrong types, oversize strings and
bodies, bytes that are not UTF-8, bodies that are not JSON or say they are
something else, odd path parameters (full-width digits, 2**64, NUL, bytes
that are not UTF-8), query strings over the limit, and odd ``Idempotency-Key``,
``Authorization`` and ``X-Id-Number`` headers. Each goes into every field,
object key, parameter and header of every operation the document lists, and
is sent as nobody, as a kiosk, as a clerk and as a manager.

Every probe is malformed, so every answer must be a refusal: a 4xx (never a
5xx, never a success) in the one error shape with all three languages; and
the tables a refused request could write (tickets, the journal, …) are
exactly as they were before.

What the HTTP server (Granian) refuses before the application sees a
request (raw 8-bit bytes in the request line, control characters in a
header, a URI over 64 KB) gets Granian's own empty 4xx, not the error shape:
``test_what_the_http_server_refuses_itself`` checks those are 4xx. Granian
also drops a header whose value has 8-bit bytes, so the application sees
such a request as one without that header: no probe here relies on them.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests

from hallq.i18n import LANGS
from launcher.processes import ServerProcess
from tests.conftest import KIOSK_KEY

pytestmark = pytest.mark.slow

# JSON text, spliced into bodies as it is (json.dumps would refuse or re-escape it)
SURROGATES = ('"\\ud800"', '"a\\udfffb"')
NUL = '"a\\u0000b"'
HUGE_INTEGERS = ("9223372036854775808", "-9223372036854775809", "1" + "0" * 5000)
NOT_NUMBERS = ("NaN", "-Infinity", "1e999")
DEEP = "[" * 40 + "]" * 40
NESTED_DEFECTS = ('{"\\ud800": 1}', '["\\udc00"]', '{"k": [1e999]}', '[{"k": 18446744073709551616}]', '{"k": "\\u0000"}')
WRONG_TYPES = {"string": ("1", "1.5", "[]", "{}", "true"), "integer": ('"1"', "1.0", "1.5", "[]", "true"),
               "boolean": ('"true"', "1", "[]"), "array": ('"x"', "{}", "1"), "object": ('"x"', "[]", "1")}
BAD_KEYS = ('"\\ud800"', '"x\\udbff"', '"a\\u0000"')
WHOLE_BODIES = (  # (bytes, what is wrong)
    (b"{", "unterminated JSON"), (b'{"a":}', "not JSON"), (b"{}x", "trailing garbage"),
    (b"[]", "an array, not an object"), (b"null", "null body"), (b'"x"', "a string body"),
    (b"1e999", "infinite number as the body"), (b"99999999999999999999", "huge integer as the body"),
    (b"NaN", "NaN as the body"), (b'{"a": "\xff"}', "a byte that is not UTF-8"),
    (b'{"\xc0\xaf": 1}', "an overlong UTF-8 form in a key"), (b'{"a": "\xed\xa0\x80"}', "a UTF-8-encoded surrogate"),
    ("{}".encode("utf-16"), "UTF-16, not UTF-8"), (b"\x00", "a NUL byte"), (b"{}\x00", "a NUL after the JSON"),
    (b"[" * 1000 + b"]" * 1000, "nested 1,000 deep"), (b"[" * 30000, "30,000 open brackets"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "objects nested 5,000 deep"),
    (b'{"a": "' + b"x" * 70000 + b'"}', "a body over 64 KB"), (b" " * 70000, "70 KB of spaces"),
)
BAD_CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                     "application/xml", "application/octet-stream")
BAD_QUERIES = ("x=%00", "x=%ff", "%ED%A0%80=1", "x=%C0%AF", "a%00=1", "x=" + "a" * 5000, "x=" + "a" * 60000)
BAD_QUERY_VALUES = ("%00", "a%00b", "%ED%A0%80", "%ff")
BAD_QUERY_INTEGERS = ("99999999999999999999", "9" * 5000, "1.5", "NaN", "-1", "1_0", "%D9%A1", "0x10", "%EF%BC%91")
BAD_PATH_TEXT = ("%00", "a%00b", "%ff", "%ED%A0%80", "%C0%AF")
BAD_PATH_INTEGERS = ("9223372036854775808", "18446744073709551616", "9" * 5000, "-1", "1.5", "NaN", "%EF%BC%91",
                     "%D9%A1", "0x1", "1%00", "%201")
BAD_IDEMPOTENCY_KEYS = ("k" * 101, "k" * 10000, "", "a\tb")
BAD_TOKENS = ("Bearer " + "a" * 10000, "Bearer a\tb")
ODD_LANGUAGES = ("en;q=NaN, *;q=1e999", "x" * 3000, "zh-Hant;q=2, en;q=-1", "")
SAMPLES = {"string": "x", "integer": 1, "boolean": True, "array": [], "object": {}}
# what a refused request could have written: compared before and after the corpus
TABLES = ("tickets", "requests", "applications", "application_events", "appointments", "appointment_suspensions",
          "notices", "ratings", "followups", "help_requests", "windows", "allocation", "staff", "businesses",
          "items", "calendar_overrides", "capacity_overrides", "hours_overrides", "tidal_assignments", "counters",
          "devices", "sessions")


@dataclass
class Probe:
    """One malformed request, with what is wrong with it (for the report)."""

    method: str
    path: str  # already percent-encoded, with the query string
    what: str
    body: bytes | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    as_caller: bool = True  # False: the probe brings its own Authorization


def _type(schema: dict) -> str:
    t = schema.get("type", "object" if "properties" in schema or "additionalProperties" in schema else "string")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    return t


def _json_object(fields: list[tuple[str, str]]) -> bytes:
    """``{"name": value, ...}`` from JSON texts, spliced as they are (a name may be given twice)."""
    return ("{" + ", ".join(f"{k}: {v}" for k, v in fields) + "}").encode()


def body_probes(op: dict, base: list[tuple[str, str]], schema: dict) -> Iterator[tuple[bytes, str]]:
    """Every defect in every field and key of the body, and bodies that are wrong as a whole."""
    props = schema.get("properties", {})
    for name, prop in props.items():
        key = json.dumps(name)

        def with_field(value: str) -> bytes:
            return _json_object([(k, v) for k, v in base if k != key] + [(key, value)])  # noqa: B023 (called in this iteration)

        for text in SURROGATES:
            yield with_field(text), f"a lone surrogate in {name}"
        yield with_field(NUL), f"NUL in {name}"
        for number in HUGE_INTEGERS:
            yield with_field(number), f"an integer beyond 64 bits in {name}"
        for literal in NOT_NUMBERS:
            yield with_field(literal), f"{literal} in {name}"
        for wrong in WRONG_TYPES.get(_type(prop), ()):
            yield with_field(wrong), f"{wrong} in {name} (a {_type(prop)})"
        if "maxLength" in prop:
            yield with_field(json.dumps("字" * (prop["maxLength"] + 1))), f"{name} over its maxLength"
        yield with_field(DEEP), f"{name} nested 40 deep"
        for nested in NESTED_DEFECTS:
            yield with_field(nested), f"{nested} inside {name}"
        yield _json_object(base + [(key, "1"), (key, "1")]), f"{name} given twice"
    for bad_key in BAD_KEYS:
        yield _json_object(base + [(bad_key, "1")]), f"the key {bad_key}"
    for raw, what in WHOLE_BODIES:
        yield raw, what


def _sample_body(schema: dict) -> list[tuple[str, str]]:
    """The required fields with plausible values: a defect elsewhere is then the one thing wrong."""
    props = schema.get("properties", {})
    out = []
    for name in schema.get("required", []):
        prop = props.get(name, {})
        value = prop["enum"][0] if prop.get("enum") else SAMPLES.get(_type(prop), "x")
        out.append((json.dumps(name), json.dumps(value)))
    return out


def build_corpus(spec: dict) -> list[Probe]:
    """Every malformed request of the corpus, for every operation of ``spec``."""
    probes: list[Probe] = []
    for template, operations in spec["paths"].items():
        for method, op in operations.items():
            method = method.upper()
            params = op.get("parameters", [])
            path_params = {p["name"]: p["schema"].get("type") for p in params if p["in"] == "path"}
            plausible = template
            for name, kind in path_params.items():
                plausible = plausible.replace("{" + name + "}", "1" if kind == "integer" else "x")
            json_body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            base = _sample_body(json_body) if json_body is not None else []
            base_bytes = _json_object(base)
            sends_body = method in ("POST", "PUT", "PATCH")

            def probe(what: str, path: str = plausible, body: bytes | None = None, **kw) -> None:
                if body is None and sends_body:  # noqa: B023 (called in this iteration)
                    body = base_bytes  # noqa: B023 (called in this iteration)
                headers = kw.pop("headers", {})
                if body is not None:
                    headers.setdefault("Content-Type", "application/json")
                probes.append(Probe(method, path, what, body, headers, **kw))  # noqa: B023 (called in this iteration)

            if json_body is not None:
                for raw, what in body_probes(op, base, json_body):
                    probe(what, body=raw)
                for content_type in BAD_CONTENT_TYPES:
                    probe(f"a body sent as {content_type}", headers={"Content-Type": content_type})
            elif op["operationId"].startswith("import_"):  # a CSV upload: bytes that are no text, a huge number
                probe("CSV that is neither UTF-8 nor GB18030", body=b"code,name\n\xff\xff\xff\n",
                      headers={"Content-Type": "text/csv"})
                probe("CSV with a 5,000-digit number", headers={"Content-Type": "text/csv"},
                      body=b"code,business,daily_limit,statutory_days\nx1,alpha," + b"9" * 5000 + b",1\n")
                probe("CSV over 2 MB", body=b"code\n" + b"x" * (2 * 1024 * 1024 + 10),
                      headers={"Content-Type": "text/csv"})
            for query in BAD_QUERIES:
                probe(f"the query {query[:20]}", path=f"{plausible}?{query}")
            for p in params:
                if p["in"] != "query":
                    continue
                for value in BAD_QUERY_VALUES:
                    probe(f"{p['name']}={value}", path=f"{plausible}?{p['name']}={value}")
                if p["schema"].get("type") == "integer":
                    for value in BAD_QUERY_INTEGERS:
                        probe(f"{p['name']}={value[:20]}", path=f"{plausible}?{p['name']}={value}")
            for name, kind in path_params.items():
                for value in BAD_PATH_INTEGERS if kind == "integer" else (*BAD_PATH_TEXT, "a" * 2000):
                    path = template
                    for other, other_kind in path_params.items():
                        path = path.replace("{" + other + "}", value if other == name else
                                            ("1" if other_kind == "integer" else "x"))
                    probe(f"{name} = {value[:20]}", path=path)
            if any(p["name"] == "Idempotency-Key" for p in params):
                for key in BAD_IDEMPOTENCY_KEYS:
                    probe(f"Idempotency-Key {key[:12]!r} ({len(key)} long)", headers={"Idempotency-Key": key})
            if op["operationId"] == "find_applications":
                for value in ("1" * 41, "1\t2"):
                    probe(f"X-Id-Number {value[:12]!r}", headers={"X-Id-Number": value})
            for token in BAD_TOKENS:
                probe(f"Authorization {token[:12]!r}…", headers={"Authorization": token}, as_caller=False)
    for i, p in enumerate(probes):  # a language nobody speaks must not change the refusal
        if i % 7 == 0:
            p.headers.setdefault("Accept-Language", ODD_LANGUAGES[i // 7 % len(ODD_LANGUAGES)])
    return probes


def refusal_problem(response: requests.Response) -> str | None:
    """What is wrong with the answer to a malformed request, or None: a 4xx in the one error shape."""
    status = response.status_code
    if status >= 500:
        return f"{status} (a server error)"
    if status < 400:
        return f"{status} (accepted)"
    try:
        error = response.json()["error"]
        assert response.headers["Content-Type"].startswith("application/json")
        assert error["status"] == status and isinstance(error["code"], str) and error["code"]
        assert set(error["messages"]) == set(LANGS) and all(isinstance(m, str) and m for m in error["messages"].values())
        assert error["message"] in error["messages"].values()
        assert isinstance(error["fields"], list) and all(set(f) == {"field", "problem"} for f in error["fields"])
        assert isinstance(error["detail"], dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        return f"{status} without the one error shape: {response.text[:150]!r}"
    return None


def send_all(url: str, probes: list[Probe], callers: dict[str, dict[str, str]], threads: int = 4) -> list[str]:
    """Send every probe as every caller (keep-alive sessions, a few threads); the problems found."""
    jobs = [(p, who, auth) for p in probes for who, auth in callers.items() if p.as_caller or who == "nobody"]
    local = threading.local()

    def send(job: tuple[Probe, str, dict[str, str]]) -> str | None:
        probe, who, auth = job
        request = requests.Request(probe.method, url + probe.path, data=probe.body,
                                   headers={**(auth if probe.as_caller else {}), **probe.headers})
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        prepared = session.prepare_request(request)
        prepared.url = url + probe.path  # as written: requests would re-quote %ED%A0%80 and friends
        try:
            response = session.send(prepared, timeout=30)
        except requests.ConnectionError as e:
            # a refusal must leave the keep-alive connection usable (the server reads what it did not need of
            # the body): a connection closed without an answer is a resident's request lost
            local.session = None
            problem = f"no answer ({e.__class__.__name__}: {str(e)[:80]})"
        else:
            problem = refusal_problem(response)
        return f"{who}: {probe.method} {probe.path[:80]} ({probe.what}) -> {problem}" if problem else None

    with ThreadPoolExecutor(threads) as pool:
        found = [p for p in pool.map(send, jobs) if p]
    send_all.count = len(jobs)  # type: ignore[attr-defined]
    return found


def snapshot(server: ServerProcess) -> dict[str, str]:
    """A digest of every table a request could write, and of the journal apart from the system's own."""
    conn = sqlite3.connect(f"file:{server.data_dir / 'hallq.sqlite3'}?mode=ro", uri=True)
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        queries = {t: f"SELECT * FROM {t} ORDER BY rowid" for t in TABLES if t in present}
        queries["journal"] = "SELECT * FROM journal WHERE actor != 'system' ORDER BY seq"
        return {t: hashlib.sha256(repr(conn.execute(q).fetchall()).encode()).hexdigest() for t, q in queries.items()}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def corpus_server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("corpus") / "data", threads=4)
    server.start()
    yield server
    server.stop()


def callers_of(server: ServerProcess) -> dict[str, dict[str, str]]:
    def bearer(job_no: str) -> dict[str, str]:
        c = server.client()
        c.login(job_no, "hallq-demo")
        return {"Authorization": f"Bearer {c.token}"}

    return {"nobody": {}, "kiosk": {"Authorization": f"Bearer {KIOSK_KEY}"}, "staff": bearer("101"),
            "manager": bearer("900")}


def test_every_malformed_request_is_refused_in_the_one_shape_and_changes_nothing(corpus_server):
    spec = corpus_server.client().get("/openapi.json")
    probes = build_corpus(spec)
    operations = {(p.method, p.path.split("?")[0]) for p in probes}
    callers = callers_of(corpus_server)
    before = snapshot(corpus_server)
    problems = send_all(corpus_server.url, probes, callers)
    after = snapshot(corpus_server)
    sent = send_all.count  # type: ignore[attr-defined]
    assert sent >= 5000 and len(operations) > 90, (sent, len(operations))
    assert not problems, f"{len(problems)} of {sent} malformed requests were not refused properly:\n" + \
        "\n".join(problems[:30])
    changed = [t for t in before if before[t] != after[t]]
    assert not changed, f"refused requests changed {changed}"


def _raw(server: ServerProcess, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


@pytest.mark.parametrize("request_bytes", [
    b"GET /api/v1/items/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",                  # raw 8-bit bytes in the path
    b"GET /api/v1/items?business=\xff HTTP/1.1\r\nHost: x\r\n\r\n",             # ... and in the query
    b"GET /api/v1/items/a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",                    # a raw NUL in the path
    b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",           # a NUL in a header
    b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x7fb\r\nContent-Length: 2\r\n\r\n{}",
    b"GET /api/v1/items?business=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a URI over 64 KB
    b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(500)) + b"\r\n",
], ids=["path-8bit", "query-8bit", "path-nul", "header-nul", "header-del", "uri-100k", "500-headers"])
def test_what_the_http_server_refuses_itself(corpus_server, request_bytes):
    """Granian answers these before the application sees them: a 4xx, empty, never a 5xx."""
    status_line = _raw(corpus_server, request_bytes).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 4"), status_line


KIOSK_AUTH = b"Authorization: Bearer " + KIOSK_KEY.encode() + b"\r\n"


def _slow_post(server: ServerProcess, path: bytes, headers: bytes) -> tuple[socket.socket, bytes, bytes, bytes]:
    """A POST whose body follows its head only once the server had every chance to answer without it (a slow
    link, a second packet): the open socket, and the answer's status line, headers and body."""
    body = b'{"note": "' + b"x" * 200 + b'"}'
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + headers +
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    time.sleep(0.05)  # no event to wait on: the delay is the slow client's
    s.sendall(body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "no answer at all"
        data += chunk
    head, _, answer = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(answer) < length:
        chunk = s.recv(65536)
        assert chunk, "the answer was cut short"
        answer += chunk
    return s, lines[0], b"\r\n".join(lines[1:]).lower(), answer


@pytest.mark.parametrize("path, auth, expected", [
    (b"/api/v1/windows/1/start", KIOSK_AUTH, b"403"),                         # a kiosk where it has no right
    (b"/api/v1/tickets", KIOSK_AUTH + b"Idempotency-Key: " + b"k" * 300 + b"\r\n", b"400"),  # the hot path's
])
def test_a_known_callers_body_left_unread_is_read_and_the_connection_lives(corpus_server, path, auth, expected):
    """A kiosk or a console refused before its body was read keeps its connection: the server reads the body
    first, and the next request on the connection is answered. (Before, Granian closed the connection when
    the body came after the answer, and the next request failed with no answer.)"""
    s, status, headers, answer = _slow_post(corpus_server, path, auth)
    with s:
        assert status.split(b" ")[1] == expected, (status, answer[:200])
        assert json.loads(answer)["error"]["status"] == int(expected)
        assert b"connection: close" not in headers
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200"), "the connection was closed after the refusal"


@pytest.mark.parametrize("path, auth, expected", [
    (b"/api/v1/windows/1/start", b"", b"401"),                                # no token
    (b"/api/v1/tickets", b"Authorization: Bearer nonsense\r\n", b"401"),     # the hot path's refusal
    (b"/api/v1/no-such-thing", b"", b"404"),                                  # no such path
    (b"/api/v1/health", b"", b"405"),                                         # a body where none is read
])
def test_a_strangers_body_is_not_read_and_the_answer_says_the_connection_closes(corpus_server, path, auth, expected):
    """Nobody without a key can hold a server thread by trickling a body: it is not read, and the answer
    says ``Connection: close``, so the client opens a new connection for its next request instead of
    losing it on one the server closes."""
    s, status, headers, answer = _slow_post(corpus_server, path, auth)
    with s:
        assert status.split(b" ")[1] == expected, (status, answer[:200])
        assert json.loads(answer)["error"]["status"] == int(expected)
        assert b"connection: close" in headers
        assert s.recv(65536) == b"", "the server kept a connection it said it would close"
