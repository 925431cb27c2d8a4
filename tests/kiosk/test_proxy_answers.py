"""The kiosk behind a reverse proxy (docs/deployment.md, "Behind a reverse proxy"): the proxy's own pages are not the
server's answers. A 502/504 (the server restarting, or slow: it may have issued the number already) is "cannot reach
the server", retried with the same Idempotency-Key, so the resident gets one number; any other answer that is not the
hall's JSON is a sentence of the kiosk's catalogue in the resident's language, never the proxy's English."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kiosk.presenters.take_number import NO_ITEM, TakeNumber
from tests.kiosk.conftest import make_session

PAGES = {502: b"<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>",
         504: b"<html><body><h1>504 Gateway Time-out</h1><hr>nginx</body></html>",
         413: b"<html><body><h1>413 Request Entity Too Large</h1><hr>nginx</body></html>"}


class Proxy:
    """nginx in front of the server: passes everything on; ``fail`` = (status, "after" | "instead") answers its own
    HTML page with that status after passing the request on (the server did the work) or instead of it."""

    def __init__(self, port: int) -> None:
        self.fail: tuple[int, str] | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
                failing = proxy.fail if method == "POST" or (proxy.fail and proxy.fail[0] == 502) else None
                if failing is None or failing[1] == "after":
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request(method, self.path, body=body, headers=dict(self.headers.items()))
                    answer = conn.getresponse()
                    data = answer.read()
                    conn.close()
                if failing is not None:
                    page = PAGES[failing[0]]
                    self.send_response(failing[0])
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied(city):
    proxy = Proxy(city.port)
    session = make_session(proxy.url)
    yield proxy, session
    session.devices.close()
    proxy.close()


def waiting(session) -> int:
    return next(b["queue"]["waiting"] for b in session.api.businesses() if b["code"] == "construction")


def test_a_gateway_time_out_after_the_server_issued_the_number_gives_one_number(proxied):
    proxy, session = proxied
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "construction")
    proxy.fail = (504, "after")                  # the server issues B001; nginx gave up waiting for its answer
    flow.handle("choose", NO_ITEM)
    v = flow.view()
    assert v.step == "item" and v.notice.level == "error"
    assert v.notice.text == "暂时连不上服务器，1 秒后自动重试。您不用再按，不会重复办理。"
    assert flow.retrying and v.retry_in == 1.0   # the same key goes out again by itself
    proxy.fail = None
    flow.handle("retry")
    v = flow.view()
    assert v.step == "result" and v.result["number"] == "B001" and flow.ticket.get("replayed")
    assert waiting(session) == 1


def test_a_bad_gateway_while_the_server_restarts_is_retried(proxied):
    proxy, session = proxied
    proxy.fail = (502, "instead")
    flow = TakeNumber(session)
    flow.start()                                  # the businesses cannot be read: said, and retried
    assert flow.view().notice.text.startswith("暂时连不上服务器") and flow._pending is not None
    proxy.fail = None
    flow.handle("retry")
    assert flow.view().step == "business" and flow.view().notice is None


@pytest.mark.parametrize("lang, words", [("zh-Hans", "服务器的回答无法识别"), ("zh-Hant", "伺服器的回答無法識別"),
                                         ("en", "could not understand the server's answer")])
def test_any_other_page_of_the_proxy_is_said_in_the_residents_language(proxied, lang, words):
    proxy, session = proxied
    session.set_lang(lang)
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "construction")
    proxy.fail = (413, "instead")
    flow.handle("choose", NO_ITEM)
    v = flow.view()
    assert v.notice.level == "error" and words in v.notice.text
    assert "nginx" not in v.notice.text and "non-JSON" not in v.notice.text
    assert not flow.retrying and waiting(session) == 0       # nothing was done: the next press is a new request
