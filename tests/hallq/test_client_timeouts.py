"""HallClient's two timeouts: reaching a server that does not answer at all (a cut line: the SYN is lost) gives up
after ``connect_timeout``, while a server that answers slowly is waited for up to ``timeout``. The county's
catch-up relies on the first so that a hall away holds none of its workers for long (county/catchup.py)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from hallq.client import HallClient, Unreachable


def test_a_server_that_never_accepts_gives_up_after_the_connect_timeout():
    # a listener whose accept queue is full and never accepted: Linux drops further SYNs, as on a cut line
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the queue (backlog 0 admits one, and a little more on some kernels)
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        client = HallClient(f"http://127.0.0.1:{port}", timeout=30, connect_timeout=0.5, retries=0)
        started = time.monotonic()
        with pytest.raises(Unreachable):
            client.get("/health")
        took = time.monotonic() - started
        assert took < 5, f"gave up after {took:.1f} s: the 30 s read timeout was used to connect"
        assert took >= 0.4
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_a_slow_answer_is_waited_for_up_to_the_read_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            time.sleep(1.0)  # the server thinks for longer than the connect timeout
            body = b'{"ok": true}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        client = HallClient(f"http://127.0.0.1:{port}", timeout=10, connect_timeout=0.3, retries=0)
        assert client.get("/health") == {"ok": True}
    finally:
        t.join(5)
        listener.close()
