"""Running the county platform under Granian, as the hall server runs (queue_server/wsgi.py).

:func:`serve` brings the database to this release's schema and the registry in line with county.toml
once, in the supervising process, then starts the workers; each worker builds the app itself
(:func:`app_from_environment`) and so its own ingester, of which only the one holding the county's
ingest lock (county/ingest.py) ingests. Nothing with a thread or a database connection is made before
Granian forks.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os

log = logging.getLogger("hallq.county")

ENV_CONFIG = "HALLQ_COUNTY_CONFIG"
ENV_DATABASE = "HALLQ_COUNTY_DATABASE"


def app_from_environment():
    from county.app import create_app
    from county.config import load_county
    from hallq import logs

    logs.setup()
    cfg = load_county(os.environ[ENV_CONFIG], database_url=os.environ.get(ENV_DATABASE) or None)
    app = create_app(cfg)
    ingester = app.extensions["county"]["ingester"]
    if ingester is not None:
        multiprocessing.util.Finalize(app, ingester.stop, exitpriority=10)
        atexit.register(ingester.stop)
    if cfg.provincial is not None:  # the hand-off to the province (county/provincial.py): one process per county
        from county.provincial import Handoff

        handoff = Handoff(cfg)
        handoff.start()
        atexit.register(handoff.stop)
    return app


def prepare(config_path: str, database_url: str | None = None):
    """Migrate the database and sync the registry; return the loaded config."""
    from county import db as county_db
    from county import registry
    from county.config import load_county

    cfg = load_county(config_path, database_url=database_url)
    county_db.migrate(cfg.database_url)
    with county_db.connect(cfg.database_url) as conn:
        registry.sync(conn, cfg)
    return cfg


def serve(config_path: str, host: str, port: int, workers: int = 1, threads: int = 8,
          database_url: str | None = None) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    prepare(config_path, database_url)
    os.environ[ENV_CONFIG] = str(config_path)
    if database_url:
        os.environ[ENV_DATABASE] = database_url
    Granian("county.wsgi:app_from_environment", factory=True, interface=Interfaces.WSGI, address=host, port=port,
            workers=workers, blocking_threads=threads, backlog=256, respawn_failed_workers=True,
            log_access=False, log_level="warning").serve()
