"""The hall's nearby cache (queue_server/nearby.py) reads any answer of a county platform without its thread dying:
one nested thousands deep (Python's JSON parser gives up with RecursionError, which the refresh did not catch) is a
failed refresh like an unreachable platform, and the next good answer is kept. A real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hallq.testing import wait_until
from queue_server.nearby import Nearby, PlatformLink

GOOD = {"site": "tiny", "as_of": "2026-11-23T09:30:00+08:00",
        "businesses": {"alpha": [{"site": "town-x", "name": {"zh-Hans": "某镇"}, "waiting": 3}]}}


def test_an_answer_nested_too_deep_is_a_failed_refresh_and_the_thread_lives_on():
    answers = [b"[" * 5000 + b"]" * 5000, json.dumps(GOOD).encode()]
    served = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            body = answers[min(len(served), len(answers) - 1)]
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    nearby = Nearby(PlatformLink(url=f"http://127.0.0.1:{server.server_address[1]}", key="k", refresh_seconds=0.05),
                    "tiny", ["alpha"])
    try:
        assert nearby.refresh() is False  # the deep answer: failed, said once, nothing kept
        assert nearby.halls("alpha") == {"available": False, "as_of": None, "halls": []}
        served.clear()
        answers[0] = answers[1] = b"[" * 5000 + b"]" * 5000
        answers.append(json.dumps(GOOD).encode())
        nearby.start()  # the thread meets the deep answer twice, then the good one
        wait_until(lambda: nearby.halls("alpha")["available"], timeout=10)
        assert nearby.halls("alpha")["halls"][0]["site"] == "town-x" and len(served) >= 3
    finally:
        nearby.stop()
        server.shutdown()
        server.server_close()
