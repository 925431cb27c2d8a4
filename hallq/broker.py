"""The embedded MQTT broker: a first run needs nothing else installed.

When a hall's ``[mqtt] url`` is empty, the queue server starts this broker
(amqtt, pure Python) in its own process, on ``embedded_listen``
(127.0.0.1:11883 by default). It is meant for a demo and a single-machine
station: for a hall with boards and kiosks on other machines, run Mosquitto
with the password file and ACL in config/mosquitto/ and set ``url``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import warnings

log = logging.getLogger("hallq.broker")


class BrokerStartError(RuntimeError):
    pass


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """amqtt running on a private event loop in a daemon thread."""

    def __init__(self, listen: str = "127.0.0.1:11883") -> None:
        self.host, self.port = _split_listen(listen)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start listening; raise :class:`BrokerStartError` with the cause and the fix."""
        if port_in_use(self.host, self.port):
            raise BrokerStartError(
                f"cannot start the embedded MQTT broker: {self.host}:{self.port} is already in use. "
                f"If another broker (Mosquitto) runs there, set [mqtt] url = \"mqtt://{self.host}:{self.port}\" "
                f"in the hall config (or HALLQ_MQTT_URL); otherwise choose another [mqtt] embedded_listen.")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    from amqtt.broker import Broker

                    self._broker = Broker({
                        "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}",
                                                  "max_connections": 500}},
                        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
                    }, loop=loop)
                    loop.run_until_complete(self._broker.start())
            except BaseException as e:  # reported to start() below
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        # amqtt logs every connection at INFO: keep the hall's log readable
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise BrokerStartError(f"the embedded MQTT broker did not start within {timeout:.0f} s")
        if failure:
            raise BrokerStartError(f"the embedded MQTT broker failed to start on {self.host}:{self.port}: {failure[0]}")
        log.info("embedded MQTT broker listening on mqtt://%s:%d", self.host, self.port)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop(self) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or not loop.is_running():
            return
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            fut.result(timeout=5)
        except Exception:  # shutting down anyway
            log.debug("embedded broker shutdown raised", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout=5)
