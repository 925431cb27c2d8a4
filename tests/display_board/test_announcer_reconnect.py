"""A call made while the announcer is away from the broker is still spoken, once: a real server, a real Mosquitto.

The announcer is wired as ``hallq announce`` wires it (display_board/announce_main.py ``listen``: the board
snapshot, then the calls) and reaches the broker through a TCP link the test cuts and restores, so which comes
back first — the server with its re-sent calls, or the announcer — is the test's choice, not the scheduler's.
Before the fix, a call the server re-sent before the announcer was back was never spoken (the review saw 1 of
4 calls made during broker restarts reach a subscriber).
"""

from __future__ import annotations

import functools
import socket
import threading
from pathlib import Path

import pytest

from device_drivers.voice import WavDirSink
from display_board.announce_main import listen
from display_board.announcer import Announcer
from display_board.settings import load_announcer
from display_board.synth import PhraseCache, Synthesizer
from hallq import contract
from hallq.mqtt import BrokerAddress, Connection, connect_from_settings
from hallq.mqtt_auth import SERVER, CredentialStore, Identity, credentials_folder
from hallq.testing import MqttCollector, mosquitto_binary, wait_until as _wait_until
from tests.conftest import KIOSK_KEY, own_broker_hall
from tests.queue_server.test_hall_broker import forged_then_sentinel

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto (./run.sh installs it)")
wait_until = functools.partial(_wait_until, timeout=20.0)  # a reconnect takes up to paho's 5 s back-off
SITE = "tiny"
FIXTURES = Path(__file__).with_name("fixtures")


class Link:
    """A TCP link to the broker that can be cut (its connections closed, new ones refused) and restored."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.srv.settimeout(0.1)
        self.port = self.srv.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.srv.accept()
            except (TimeoutError, OSError):
                continue
            if not self.up.is_set():
                client.close()
                continue
            try:
                broker = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            broker.settimeout(None)
            client.settimeout(None)
            with self.lock:
                self.socks += [client, broker]
            for a, b in ((client, broker), (broker, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.socks.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.closed.set()
        self.cut()
        self.srv.close()


class Speaking:
    """The real announcer (real speech, WAV output) on ``connection``, recording the tickets it says."""

    def __init__(self, settings, connection, tmp_path) -> None:
        self.spoken: list[str] = []
        self.announcer = Announcer(settings, Synthesizer(PhraseCache(tmp_path / "voice-cache", 100)),
                                   WavDirSink(tmp_path / "wavs"), tmp_path / "work")
        self.announcer.on_done.append(lambda ann: ann.error or self.spoken.extend(ann.tickets))
        self.connection = connection
        listen(self.announcer, connection, SITE)
        connection.start()
        self.announcer.start()

    def stop(self) -> None:
        self.announcer.stop()
        self.connection.stop()


def clerk_at_window_1(server, tickets: int = 4):
    kiosk = server.client(KIOSK_KEY)
    for _ in range(tickets):
        kiosk.issue_ticket("alpha")
    clerk = server.client()
    clerk.login("101", "hallq-demo")
    clerk.window_action(1, "sign-in")
    return clerk


def test_a_call_re_sent_after_a_broker_restart_before_the_announcer_is_back_is_spoken_once(
        mosquitto, server_proc, tmp_path):
    server = server_proc(mqtt_url=mosquitto.url)
    clerk = clerk_at_window_1(server)
    link = Link(mosquitto.port)
    ann = Speaking(load_announcer(FIXTURES / "announcer.toml"),
                   Connection(BrokerAddress.parse(link.url), SITE, "announcer", "test"), tmp_path)
    probe = None
    try:
        wait_until(ann.connection.connected.is_set, what="the announcer connected")
        clerk.call_next(1)
        wait_until(lambda: ann.spoken == ["A001"], what="A001 spoken")

        link.cut()  # the announcer is away (its reconnects fail) ...
        wait_until(lambda: not ann.connection.connected.is_set(), what="the announcer seeing it")
        mosquitto.stop()  # ... and the broker restarts
        second = clerk.call_next(1, complete_current=True)["ticket"]["ticket"]  # committed while it is away
        mosquitto.start()
        # the server is back first: it re-sends A002 (to nobody) and republishes the board
        probe = MqttCollector(mosquitto.url, contract.BOARD.topic(SITE))
        probe.wait_for(lambda t, p: p["recent_calls"] and p["recent_calls"][0]["ticket"] == second, timeout=20)
        link.restore()  # the announcer is back
        wait_until(lambda: ann.spoken == ["A001", second], what=f"{second} spoken")
        assert ann.announcer.counters.recovered == 1

        third = clerk.call_next(1, complete_current=True)["ticket"]["ticket"]
        wait_until(lambda: ann.spoken[-1:] == [third], what=f"{third} spoken")
        assert ann.spoken == ["A001", second, third]  # each once
    finally:
        if probe is not None:
            probe.close()
        ann.stop()
        link.close()


def test_on_the_halls_own_broker_the_announcer_reads_the_board_and_may_not_write_it(tmp_path, server_proc):
    """Its ACL: the announcer's account reads the board (what recovery needs) and cannot forge it. A call made
    while only the announcer's link was down is spoken from the retained snapshot when it reconnects."""
    config, port = own_broker_hall(tmp_path)
    (config.parent / "announcer.toml").write_text(
        'hall = "hall.toml"\n[announcer]\nid = "test"\noutput = "wav-dir"\n'
        '[[announcer.languages]]\nlang = "zh"\nvoice = "cmn-latn-pinyin"\nrepeat = 1\n', encoding="utf-8")
    server = server_proc(config=config, mqtt_url="")
    clerk = clerk_at_window_1(server)
    settings = load_announcer(config.parent / "announcer.toml")
    link = Link(port)
    ann = Speaking(settings, connect_from_settings(settings.hall.mqtt, SITE, "announcer", "test", server.data_dir,
                                                   url=link.url), tmp_path)
    store = CredentialStore(credentials_folder(server.data_dir))
    watcher = MqttCollector(f"mqtt://127.0.0.1:{port}", f"hallq/{SITE}/#", SERVER.username,
                            store.password(SERVER, create=False))
    try:
        wait_until(ann.connection.connected.is_set, what="the announcer connected with its own account")
        clerk.call_next(1)  # heard live (the test server runs on a virtual clock: this call shows the difference)
        wait_until(lambda: ann.spoken == ["A001"], what="A001 spoken")
        link.cut()
        wait_until(lambda: not ann.connection.connected.is_set(), what="the announcer's link down")
        second = clerk.call_next(1, complete_current=True)["ticket"]["ticket"]  # published live, to nobody
        watcher.wait_for(lambda t, p: t.endswith("/board") and p["recent_calls"]
                         and p["recent_calls"][0]["ticket"] == second)
        link.restore()
        wait_until(lambda: ann.spoken == ["A001", second], what=f"{second} spoken from the board snapshot")
        assert ann.announcer.counters.recovered == 1

        identity = Identity("announcer", "test")
        forged = forged_then_sentinel(f"mqtt://127.0.0.1:{port}", (identity.username, store.password(
            identity, create=False)), "test", "announcer", contract.BOARD.topic(SITE), b'{"version": 1, "forged": true}',
            True, watcher)
        assert all(p.get("forged") is not True for p in forged), "the announcer wrote the board"
    finally:
        watcher.close()
        ann.stop()
        link.close()
