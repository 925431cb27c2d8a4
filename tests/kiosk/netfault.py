"""A TCP proxy that can lose the server's answers: the worst network fault for "nothing issued twice"."""

from __future__ import annotations

import socket
import threading


class LossyProxy:
    """Forwards 127.0.0.1:<port> to the server; ``mode``: pass | drop_answers | refuse."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.forwarded_requests = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.mode == "refuse":
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return

        def pump(src: socket.socket, dst: socket.socket, answers: bool) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if not answers:
                        if self.mode == "refuse":
                            break
                        self.forwarded_requests += 1
                    elif self.mode == "drop_answers":
                        break              # the server did the work; the kiosk never hears of it
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (client, upstream):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
        pump(upstream, client, True)
        client.close()
        upstream.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
