"""The app factory reads as the list of what a server is, and leaves nothing out.

``API_PARTS`` and ``PAGES`` in queue_server/app.py are explicit lists: a module of
``queue_server/api`` that declares routes, or of ``queue_server/web`` that has a
blueprint, and is not in its list would silently not be served. Housekeeping is its
own switch, independent of MQTT.
"""

from __future__ import annotations

import re

from hallq.testing import ROOT, TINY
from queue_server.app import API_PARTS, PAGES, create_app

ROUTES = re.compile(r"^@(operation|api\.\w+)\(", re.MULTILINE)
BLUEPRINT = re.compile(r"^bp = Blueprint\(", re.MULTILINE)


def _modules(package: str, pattern: re.Pattern) -> set[str]:
    return {p.stem for p in (ROOT / "queue_server" / package).glob("*.py")
            if p.stem != "__init__" and pattern.search(p.read_text(encoding="utf-8"))}


def test_every_part_of_the_api_and_every_page_is_listed():
    assert len(set(API_PARTS)) == len(API_PARTS) and len(set(PAGES)) == len(PAGES)
    assert set(API_PARTS) == _modules("api", ROUTES)
    assert set(PAGES) == _modules("web", BLUEPRINT)


def test_the_app_serves_exactly_the_listed_parts(app):
    served = {app.view_functions[rule.endpoint].__module__ for rule in app.url_map.iter_rules()
              if rule.endpoint.rsplit(".", 1)[-1] != "static"}  # Flask's own static files
    assert {m.rsplit(".", 1)[1] for m in served if m.startswith("queue_server.api.")} == set(API_PARTS)
    assert {m.rsplit(".", 1)[1] for m in served if m.startswith("queue_server.web.")} == set(PAGES)
    assert served <= {f"queue_server.api.{p}" for p in API_PARTS} | {f"queue_server.web.{p}" for p in PAGES}
    assert list(app.blueprints) == ["api", *(_blueprint_name(p) for p in PAGES)]  # in the listed order


def _blueprint_name(page: str) -> str:
    import importlib

    return importlib.import_module(f"queue_server.web.{page}").bp.name


def test_housekeeping_is_its_own_switch(tmp_path, clock):
    """Tests and benchmarks turn off MQTT and housekeeping each by name; a server has both."""
    quiet = create_app(TINY, data_dir=tmp_path / "quiet", clock=clock, mqtt=False, housekeeping=False)
    try:
        assert "hallq_watch" not in quiet.extensions and quiet.extensions["hallq"].publisher is None
    finally:
        quiet.extensions["hallq"].close()
    busy = create_app(TINY, data_dir=tmp_path / "busy", clock=clock, mqtt=False)  # housekeeping on by default
    watch = busy.extensions["hallq_watch"]
    try:
        assert busy.extensions["hallq"].publisher is None and watch._thread.is_alive()
        rounds = watch.rounds
        watch.run_once()
        assert watch.rounds > rounds  # without a publisher, this process runs the rounds
    finally:
        watch.stop()
        busy.extensions["hallq"].close()
    assert not watch._thread.is_alive()
