"""Running the server under Granian, a production HTTP server written in Rust.

Why Granian and not gunicorn: measured on the 2-core reference machine, a
trivial endpoint cost 590 µs of server CPU per request under gunicorn
(gthread) and 190 µs under Granian, which took ticket issuing from ~690 to
~1,000 per second with the same application code (docs/performance.md).

One worker process with threads is the default and the recommended shape
for a hall: SQLite takes one writer at a time anyway, and the MQTT publisher
and the housekeeping thread live in that worker. The hall's own broker (when
``[mqtt] url`` is empty) is Mosquitto, a process of its own that :func:`serve`
starts before the workers and stops after them (hallq/broker.py). Several
workers are supported (``--workers``): they share the database safely
(``BEGIN IMMEDIATE``) and elect one publisher by file lock.

The worker builds the app itself (:func:`app_from_environment`), from the
settings ``hallq serve`` passes in the environment, so nothing heavy is
imported in the supervising process. That process first checks the hall,
migrates the database and starts the broker (the config machinery, the
command's parser, the migrations), then replaces itself (``exec``, the same
pid) with a fresh Python that imports only Granian (:func:`run_granian`,
``python -m queue_server.wsgi``): Granian forks its workers from it, and a
forked worker carries every page of its parent, so what the preparation
imported was held twice, in the supervisor and in each worker (issue 16).
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing.util
import os
import signal
import sys
import time

from queue_server import SERVE_THREADS

log = logging.getLogger("hallq.server")

ENV_CONFIG = "HALLQ_SERVE_CONFIG"
ENV_CLOCK = "HALLQ_SERVE_CLOCK"  # ISO start of a virtual clock, or absent for the real clock
ENV_DATA = "HALLQ_SERVE_DATA_DIR"
ENV_WORKERS = "HALLQ_SERVE_WORKERS"  # what the workers report in GET /health (benchmarks label their figures with it)
ENV_THREADS = "HALLQ_SERVE_THREADS"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def app_from_environment():
    """The Flask app of this worker (Granian calls it once per worker: ``factory=True``)."""
    from hallq.lazyimports import tls_and_proxy

    # before Flask: urllib.request (and its http.client, email...) is then loaded at the first request to an
    # https county link, not at start (hallq.lazyimports). ssl itself is already loaded: Granian imports it
    tls_and_proxy()
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hallq.clock import Clock, VirtualClock
    from hallq.hallconfig import load_hall
    from queue_server.app import create_app

    from hallq import logs

    logs.setup()
    cfg = load_hall(os.environ[ENV_CONFIG])
    tz = ZoneInfo(cfg.timezone)
    start = os.environ.get(ENV_CLOCK)
    clock = VirtualClock(datetime.fromisoformat(start), tz=tz) if start else Clock(tz)
    app = create_app(cfg, data_dir=os.environ.get(ENV_DATA) or None, clock=clock)
    # A clean stop publishes "stopped" and closes the database. Granian's workers are
    # multiprocessing children, which leave through os._exit and skip atexit: the
    # multiprocessing finalizers are what runs there.
    close = app.extensions["hallq"].close
    multiprocessing.util.Finalize(app, close, exitpriority=10)
    atexit.register(close)
    from hallq.kivymem import trim_heap  # glibc's malloc_trim, which the board and the kiosk use too

    trim_heap()  # what importing and building the app freed goes back to the system: ~1 MB idle RSS
    return app


def serve(config_path: str, host: str, port: int, workers: int = 1, threads: int = SERVE_THREADS,
          data_dir: str | None = None, clock_start: str | None = None, access_log: bool = False,
          tls: bool = False) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM: check, migrate, start the broker, then exec
    :func:`run_granian` (this call does not return, unless the start fails)."""
    os.environ[ENV_CONFIG] = str(config_path)
    os.environ[ENV_WORKERS], os.environ[ENV_THREADS] = str(workers), str(threads)
    if data_dir:
        os.environ[ENV_DATA] = str(data_dir)
    if clock_start:
        os.environ[ENV_CLOCK] = clock_start
    else:
        os.environ.pop(ENV_CLOCK, None)
    https = {}
    if tls:  # HTTPS with the hall's own certificate (hallq tls)
        from hallq import settings
        from hallq import tls as hall_tls
        from hallq.broker import BrokerStartError
        from hallq.hallconfig import load_hall

        cfg = load_hall(config_path)
        files = hall_tls.files(settings.data_dir(cfg.site, data_dir))
        if not files.ready():
            raise BrokerStartError(f"--tls, but the hall has no certificate in {files.folder}: run "
                                   f"hallq tls --config {config_path}")
        https = {"ssl_cert": files.cert, "ssl_key": files.key}
    _database_ready(config_path, data_dir)
    broker = _hall_broker(config_path, data_dir)
    granian = {"address": host, "port": port, "workers": workers, "blocking_threads": threads,
               "log_access": access_log, **{k: str(v) for k, v in https.items()},
               "broker_pid": broker.proc.pid if broker is not None and broker.proc is not None else None}
    # A stop asked for during the exec waits, blocked, until the new process can stop the broker too (a blocked
    # signal stays pending across exec, and the mask is inherited): see run_granian
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        for stream in (sys.stdout, sys.stderr):  # what this process said is not lost with its buffers
            stream.flush()
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.execv(sys.executable, [sys.executable, "-m", "queue_server.wsgi", json.dumps(granian)])
    except BaseException:  # exec failed: nothing else will stop the broker
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if broker is not None:
            broker.stop()
        raise


def run_granian(settings: dict) -> None:
    """Granian's supervising process (what :func:`serve` execs), until SIGINT/SIGTERM; then the hall's broker,
    started before the exec and still this process's child (``broker_pid``), is stopped as
    :meth:`hallq.broker.HallBroker.stop` stops it: SIGTERM, 5 s, SIGKILL."""
    from granian import Granian
    from granian.constants import Interfaces

    from pathlib import Path

    broker_pid = settings.pop("broker_pid", None)
    for key in ("ssl_cert", "ssl_key"):  # Granian takes paths (it resolves them); JSON carried strings
        if key in settings:
            settings[key] = Path(settings[key])
    try:
        # serve() blocked SIGTERM and SIGINT over the exec. Until Granian sets its own handlers, a stop ends this
        # process through the finally below, which stops the broker (SIGTERM's default action would not)
        for signum in STOP_SIGNALS:
            signal.signal(signum, _stop_before_serving)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        Granian("queue_server.wsgi:app_from_environment", factory=True, interface=Interfaces.WSGI, backlog=512,
                respawn_failed_workers=True, log_level="warning", **settings).serve()
    finally:
        if broker_pid is not None:
            _stop_child(broker_pid)


def _stop_before_serving(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def _stop_child(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM to a child of this process, SIGKILL if it is still there after ``timeout``; reaped either way."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return  # it had ended already
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass  # not (or no longer) this process's child


class StartError(RuntimeError):
    """The server cannot start; the message says why and what to do."""


def _database_ready(config_path: str, data_dir: str | None) -> None:
    """Bring the database to this release's schema once, before any worker opens it, or refuse to start.

    An upgrade shows here: the pending migrations are applied in one transaction (or none is). A database
    written by a newer release stops the start with the cause and the fix, instead of a worker crashing."""
    from hallq import settings
    from hallq.hallconfig import load_hall
    from queue_server.db import Database
    from queue_server.migrations import NewerSchema, migrate

    from queue_server.server_lock import ServerLock

    cfg = load_hall(config_path)
    ddir = settings.data_dir(cfg.site, data_dir)
    presence = ServerLock(ddir)
    presence.share()  # as every worker does: hallq restore waits for no one and replaces nothing under us
    db = Database(ddir / "hallq.sqlite3")
    try:
        migrate(db, settings.load_secret(ddir))  # a migration may seal existing values under it (024)
    except NewerSchema as e:
        raise StartError(str(e)) from None
    finally:
        db.close()
        presence.release()


def _hall_broker(config_path: str, data_dir: str | None):
    """The hall's own Mosquitto when ``[mqtt] url`` is empty, started before the workers that connect to it."""
    from hallq import settings
    from hallq.broker import HallBroker
    from hallq.hallconfig import load_hall

    cfg = load_hall(config_path)
    if not cfg.mqtt.embedded:
        return None
    broker = HallBroker(cfg, settings.data_dir(cfg.site, data_dir))
    broker.start()  # BrokerStartError says the cause and the fix; hallq serve prints it
    return broker


if __name__ == "__main__":  # python -m queue_server.wsgi '<settings JSON>': what serve() execs
    run_granian(json.loads(sys.argv[1]))
