"""GET /api/v1/health says how the running server is set up, so a benchmark labels its figures by what it measured.

The SQLite settings as SQLite reports them, the broker the server publishes to (the hall's own, or a URL's
host and port: never an account or a password), and the workers and threads ``hallq serve`` started.
"""

from __future__ import annotations

from tests.conftest import own_broker_hall


def test_health_reports_the_database_the_broker_and_the_serving_shape(tmp_path, server_proc):
    config, port = own_broker_hall(tmp_path)
    server = server_proc(config=config, broker="hall", workers=1, threads=3)
    health = server.client().health()
    assert health["database"] == "ok"  # the supervisor's readiness check reads this word
    assert health["sqlite"] == {"journal_mode": "WAL", "synchronous": "FULL"}
    assert health["broker"] == {"embedded": True, "host": "127.0.0.1", "port": port, "tls": False}
    assert health["server"] == {"workers": 1, "threads": 3}


def test_health_names_an_outside_broker_by_host_and_port_only(tmp_path, server_proc):
    server = server_proc(mqtt_url="mqtt://bench:s3cret-word@127.0.0.1:1")
    health = server.client().health()
    assert health["broker"] == {"embedded": False, "host": "127.0.0.1", "port": 1, "tls": False}
    assert health["mqtt"] == "disconnected"
    assert "s3cret-word" not in str(health) and "bench" not in str(health["broker"])
