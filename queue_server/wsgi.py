"""Running the server under gunicorn (a production WSGI server, not Flask's development one).

One worker process with threads is the default and the recommended shape
for a hall: SQLite takes one writer at a time anyway, and the embedded
broker and the MQTT publisher live in that process. Several workers are
supported (``--workers``) with an external broker: they share the database
safely (``BEGIN IMMEDIATE``) and elect one publisher by file lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

log = logging.getLogger("hallq.server")


class HallServer(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], host: str, port: int, workers: int = 1, threads: int = 8,
                 access_log: bool = False) -> None:
        self.factory = factory
        self.app: Flask | None = None
        self.options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 30,
            "graceful_timeout": 5,
            "keepalive": 5,
            "backlog": 512,
            "accesslog": "-" if access_log else None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "hallq-server",
            "worker_exit": self._worker_exit,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        self.app = self.factory()
        return self.app

    def _worker_exit(self, server, worker) -> None:
        # a clean stop publishes "stopped" and closes the database
        if self.app is not None:
            self.app.extensions["hallq"].close()
