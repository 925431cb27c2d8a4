"""The outbox of routed applications (就近办 across halls) with several server processes on one data directory.

``hallq serve --workers 2`` starts an outbox in each process. Only the one holding ``routing.lock`` may forward
and follow (queue_server/leadership.py), and each outcome of a try is written only while the application is still
queued, so a race journals it once. Two ``Outbox`` objects on one data directory stand in for two processes: each
opens the lock file itself, so their locks conflict as two processes' would. The county platform is a real HTTP
server on loopback that counts what it is sent.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from hallq.testing import wait_until
from queue_server.domain.context import Actor
from queue_server.nearby import PlatformLink
from queue_server.routing_outbox import Outbox, RoutingSettings

ITEM = "R-ALLOWANCE"
TOWN = "town-x"
DEFINITION = {
    "item_name": {"zh-Hans": "高龄津贴申请", "zh-Hant": "高齡津貼申請", "en": "Old-age allowance"},
    "business": "alpha",
    "fields": [{"key": "village_group", "type": "text", "required": True, "max_len": 60,
                "label": {"zh-Hans": "户籍所在村（组）", "zh-Hant": "戶籍所在村（組）", "en": "Village (group)"}}],
    "materials": [],
}
KIOSK = Actor("kiosk", "kiosk-1")


class Platform:
    """The county platform's routing API as a village's outbox sees it: the routed items, filing (once per
    tracking number: a second filing answers ``duplicate``) and progress."""

    def __init__(self) -> None:
        self.filed: list[str] = []  # tracking numbers, one entry per POST
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                if path == "/api/v1/routing/items":
                    self._answer({"items": [{"item": ITEM, "target": TOWN, "definition": DEFINITION,
                                             "target_name": {"zh-Hans": "某镇", "zh-Hant": "某鎮", "en": "Town X"}}]})
                else:  # /api/v1/routing/applications/<target>/<tracking no>
                    self._answer({"status": "submitted", "tracking_no": "T-" + path.rsplit("/", 1)[-1]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with platform.lock:
                    duplicate = body["tracking_no"] in platform.filed
                    platform.filed.append(body["tracking_no"])
                self._answer({"status": "submitted", "tracking_no": "T-" + body["tracking_no"], "target": TOWN,
                              "duplicate": duplicate})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform():
    p = Platform()
    yield p
    p.close()


def _submit(service) -> str:
    view = service.routing.submit(KIOSK, ITEM, {"name": "王秀英", "id_number": "11010519491231002X", "phone": "13800138000"},
                                  {"village_group": "三组"}, [], "onsite")
    return view["tracking_no"]


def _state(service, tracking_no: str) -> str:
    return service.routing.get(tracking_no, back_office=True)["routed"]["state"]


def _journaled(service, action: str, tracking_no: str) -> int:
    with service.db.read() as conn:
        return conn.execute("SELECT count(*) FROM journal WHERE action = ? AND json_extract(data, '$.tracking_no') = ?",
                            (action, tracking_no)).fetchone()[0]


def _two_processes(service, state, platform, refresh_seconds: float) -> tuple[Outbox, Outbox]:
    """The routed item stored, and two outboxes on one data directory (as two server processes), neither started."""
    service.routing.store_items([{"item": ITEM, "target": TOWN, "definition": DEFINITION, "target_name": {}}])
    link = PlatformLink(url=platform.url, key="village-key")
    settings = RoutingSettings(refresh_seconds=refresh_seconds)
    return Outbox(service, link, settings, state.data_dir), Outbox(service, link, settings, state.data_dir)


def test_only_the_process_holding_the_lock_forwards_and_another_takes_over_when_it_ends(service, state, platform):
    first, second = _two_processes(service, state, platform, 0.2)
    first.start()
    try:
        wait_until(lambda: first.lead.held and first.rounds > 0, timeout=10)
        second.start()
        one = _submit(service)
        wait_until(lambda: _state(service, one) == "forwarded", timeout=10)
        rounds = first.rounds
        wait_until(lambda: first.rounds >= rounds + 3, timeout=10)  # more rounds of both, nothing more sent
        assert platform.filed == [one]
        assert not second.lead.held and second.rounds == 0
        assert _journaled(service, "application_forwarded", one) == 1

        first.stop()  # the forwarding process ends: its lock is freed, the other takes the duty over
        wait_until(lambda: second.lead.held and second.rounds > 0, timeout=10)
        two = _submit(service)
        wait_until(lambda: _state(service, two) == "forwarded", timeout=10)
        assert platform.filed == [one, two]
    finally:
        first.stop()
        second.stop()


def test_an_application_queued_in_another_process_is_forwarded_at_once_not_at_the_next_round(service, state, platform):
    """The process that took the application (its API called ``wake()``) does not hold ``routing.lock``: it rings the
    holder's doorbell. With rounds an hour apart, only that ring can explain a prompt forwarding."""
    holder, other = _two_processes(service, state, platform, 3600)
    holder.start()
    try:
        wait_until(lambda: holder.lead.held and holder.rounds == 1, timeout=10)  # its first round, then an hour
        other.start()
        one = _submit(service)
        other.wake()  # what POST /api/v1/applications does in the process that took it
        wait_until(lambda: _state(service, one) == "forwarded", timeout=10)
        assert platform.filed == [one] and holder.rounds == 2
        assert not other.lead.held and other.rounds == 0
    finally:
        holder.stop()
        other.stop()


def test_an_outcome_already_settled_by_another_round_is_not_written_again(service):
    service.routing.store_items([{"item": ITEM, "target": TOWN, "definition": DEFINITION, "target_name": {}}])
    no = _submit(service)
    answer = {"status": "submitted", "tracking_no": "T-" + no, "target": TOWN}
    assert service.routing.forwarded(no, answer) is True
    # a second round that sent the same application (its answer: duplicate) and then failed or was refused
    assert service.routing.forwarded(no, {**answer, "duplicate": True}) is False
    assert service.routing.failed(no, "503 busy", 30) is False
    assert service.routing.refused(no, {"code": "form_changed"}) is False
    view = service.routing.get(no, back_office=True)["routed"]
    assert (view["state"], view["attempts"], view["last_error"], view["refusal"]) == ("forwarded", 1, None, None)
    assert _journaled(service, "application_forwarded", no) == 1
    assert _journaled(service, "application_route_refused", no) == 0
