"""hallq.client reads any answer a server may give: what is not our JSON error shape becomes an ApiError saying
what came, never an exception of its own (the village's outbox and nearby threads, the kiosk, the gateway rely on
it). Found by an input audit: JSON nested too deep, and an "error" that is not an object, escaped it.

An answer that says the server is not there now (502, 503, 504: a reverse proxy's bad gateway or time-out, the
server's own busy; any 5xx that is not JSON: a proxy's or a crashed worker's page) is :class:`Unreachable`, with
its status kept, and a request with an Idempotency-Key is sent again with the same key: behind nginx, a 504 that
came after the server issued a number gives no second number (docs/deployment.md, "Behind a reverse proxy")."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hallq.client import ApiError, HallClient, Unreachable


@pytest.mark.parametrize("status, raw, code", [
    (200, b"[" * 3000 + b"]" * 3000, "bad_response"),      # Python's parser gives up (RecursionError)
    (413, b"<html>413 Request Entity Too Large</html>", "bad_response"),
    (400, b'{"error": "bad things"}', "error"),              # another server's shape
    (400, b'{"error": {"code": 7, "messages": "x"}}', "error"),
    (404, b"[1, 2]", "error"),
    (500, b'{"error": {"status": 500, "code": "internal", "messages": {"en": "Oops."}}}', "internal"),
])
def test_an_answer_that_is_not_ours_is_an_api_error(status, raw, code):
    assert HallClient._not_there(status, raw) is None
    with pytest.raises(ApiError) as caught:
        HallClient._decode(status, raw)
    assert caught.value.status == status and caught.value.code == code
    assert isinstance(caught.value.messages, dict)


@pytest.mark.parametrize("status, raw, code", [
    (502, b"<html>bad gateway</html>", "unreachable"),
    (504, b"<html><h1>504 Gateway Time-out</h1></html>", "unreachable"),
    (503, b"", "unreachable"),
    (500, b"[" * 3000 + b"]" * 3000, "unreachable"),                 # a 5xx that is not JSON
    (500, b"<html>Internal Server Error</html>", "unreachable"),
    (503, '{"error": {"status": 503, "code": "busy", "messages": {"zh-Hans": "系统繁忙", "en": "Busy"}}}'.encode(), "busy"),
    (503, b'{"error": {"status": 503, "code": "target_unreachable", "target": "x"}}', "target_unreachable"),
])
def test_an_answer_saying_the_server_is_not_there_is_unreachable(status, raw, code):
    gone = HallClient._not_there(status, raw)
    assert isinstance(gone, Unreachable) and isinstance(gone, ApiError)
    assert (gone.status, gone.code) == (status, code)                # callers still tell them apart
    assert gone.message("zh-Hans") and gone.message("en")            # words, never the page


def test_our_own_shape_is_read_as_it_is():
    with pytest.raises(ApiError) as caught:
        HallClient._decode(409, b'{"error": {"status": 409, "code": "closed", "messages": {"en": "Closed."}}}')
    assert (caught.value.code, caught.value.messages) == ("closed", {"en": "Closed."})
    assert HallClient._decode(200, b'{"a": 1}') == {"a": 1}


def test_a_gateway_time_out_is_retried_with_the_same_key():
    """nginx answers 504 while the server is slow; the server did the work: the retry carries the same key."""
    keys: list[str] = []
    answers = [504, 502, 201]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            keys.append(self.headers.get("Idempotency-Key"))
            status = answers.pop(0)
            body = b"<html>nginx</html>" if status >= 500 else json.dumps({"ticket": "B001"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if status >= 500 else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = HallClient(f"http://127.0.0.1:{server.server_port}", retries=2)
        assert client.request("POST", "/tickets", {"business": "construction"}, idempotency_key="k1") == \
            {"ticket": "B001"}
        assert keys == ["k1", "k1", "k1"]
        answers[:] = [504, 504]
        client = HallClient(f"http://127.0.0.1:{server.server_port}", retries=1)
        with pytest.raises(Unreachable) as caught:
            client.request("POST", "/tickets", {"business": "construction"}, idempotency_key="k2")
        assert caught.value.status == 504 and keys[-2:] == ["k2", "k2"]
        answers[:] = [502]
        with pytest.raises(Unreachable):           # no key: sent once, never repeated
            client.request("POST", "/windows/1/call-next", {})
        assert len(keys) == 6
    finally:
        server.shutdown()
        server.server_close()
