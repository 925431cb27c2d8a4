"""就近办 across halls: the platform relays routed applications from a village station to the hall that handles them.

A village station accepts an application for an item it does not handle (docs/county.md, "Routed applications"):
it gives the resident a receipt at once, keeps the application in its own SQLite and forwards it through its
outbox (queue_server/routing_outbox.py) to this platform, which passes it on to the handling hall. The platform
is a **relay, not a store**: it keeps no applicant's data (nothing personal in PostgreSQL, nothing personal in
its log), checks who asks and where it may go, and answers with the handling hall's own answer. Exactly once in
effect is the handling hall's: it files an application once per (village site, village tracking number), so a
retry (the village's outbox after a timeout, a replayed request) finds the one it filed.

Who may call (every route with a bearer token, never anonymous):

* **a hall, with the county's key for it** (its county.toml ``credential``, the key it asks ``/api/v1/nearby``
  with), for its own ``site`` only, and only for the items county.toml routes from it (``[[halls]] routes``) to
  the hall named there (default its parent);
* the platform calls the handling hall with **that hall's routing key** (``routing_credential``: the key of its
  ``[[devices]] kind = "routing"``), which there may only file routed applications and read their progress.

Routes::

    GET  /api/v1/routing/items?site=<village>                    the items it routes, with their definitions
    POST /api/v1/routing/applications?site=<village>             forward one application (the hall's answer)
    GET  /api/v1/routing/applications/<target>/<no>?site=<village>   its progress at the handling hall
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Callable

from flask import Flask, jsonify, request

from county.config import CountyConfig, CountyConfigError, resolve_secret
from hallq.client import ApiError, HallClient

log = logging.getLogger("hallq.county.routing")

TRACKING = re.compile(r"[A-Z]{2}[0-9]{8}-[A-Z0-9]{4,16}")


# a hall's answer read whole by the platform: an item's form, a filed application's receipt, its progress (a few
# KB); a longer one is refused (hallq.client.AnswerTooLarge, an ApiError) rather than read into memory
ANSWER_MAX_BYTES = 2 * 1024 * 1024


def _client(cfg: CountyConfig, target: str) -> HallClient:
    hall = cfg.halls[target]
    key = resolve_secret(hall.routing_credential, f"halls[site={target}].routing_credential")
    return HallClient(hall.journal_url, token=key, timeout=10, retries=1, ca_file=hall.cafile or None,
                      max_answer_bytes=ANSWER_MAX_BYTES)


DEFINITION_SECONDS = 60.0  # a handling hall's definition of an item is asked again after this long
_definitions: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}  # (hall, item) -> (fetched, definition)
_lock = threading.Lock()


def definitions(cfg: CountyConfig, site: str) -> list[dict[str, Any]]:
    """The items ``site`` routes, each with its handling hall and that hall's definition of it (its public
    ``GET /items/{code}/form``, kept here a minute so that a county of stations asks each hall little, and a
    hall that does not answer within 3 s holds up no station); ``definition`` is the last one known, or None
    (with ``error``) when the handling hall never said."""
    out = []
    for item, target in sorted(cfg.halls[site].routes.items()):
        hall = cfg.halls[target]
        entry: dict[str, Any] = {"item": item, "target": target, "target_name": hall.name, "target_level": hall.level,
                                 "definition": None}
        with _lock:
            known = _definitions.get((target, item))
        if known is not None and time.monotonic() - known[0] < DEFINITION_SECONDS:
            entry["definition"] = known[1]
            out.append(entry)
            continue
        client = HallClient(hall.journal_url, timeout=3, retries=0, ca_file=hall.cafile or None,
                            max_answer_bytes=ANSWER_MAX_BYTES)
        try:
            definition = client.get(f"/items/{item}/form")
            with _lock:
                _definitions[(target, item)] = (time.monotonic(), definition)
            entry["definition"] = definition
        except ApiError as e:
            entry["error"] = f"{e.status} {e.code}"
            gone = e.status in (404, 409)  # the hall no longer takes applications for it: no definition at all
            entry["definition"] = known[1] if known and not gone else None
            if gone:
                log.warning("routing: hall %s has no form for item %s that county.toml routes from %s to it (%s): "
                            "fix the route or the hall's catalogue", target, item, site, e.code)
        finally:
            client.close()
        out.append(entry)
    return out


def _alert(cfg: CountyConfig, site: str, kind: str, detail: str) -> None:
    """One open alert per hall and kind for the supervision office (county/store.py); never personal data."""
    from county import db as county_db
    from county.store import raise_alert

    try:
        with county_db.connect(cfg.database_url, autocommit=True) as conn:
            raise_alert(conn, site, kind, detail)
    except Exception as e:  # the alert is extra: the answer to the station does not depend on it
        log.warning("routing: could not raise the alert %s for %s (%s)", kind, site, e)


def register(app: Flask, cfg: CountyConfig, refusal: type[Exception], caller: Callable[[], str]) -> None:
    """Add the routing routes to the platform's app (county/app.py); ``caller`` gives the hall asking, proven by
    the county's key for it, or refuses with 401 (the same check as /api/v1/nearby); ``refusal`` is the app's
    error."""

    @app.get("/api/v1/routing/items")
    def routing_items():
        site = caller()
        return jsonify({"site": site, "items": definitions(cfg, site)})

    @app.post("/api/v1/routing/applications")
    def routing_submit():
        site = caller()
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("item"), str) \
                or not TRACKING.fullmatch(str(body.get("tracking_no", ""))):
            raise refusal(400, "invalid_fields")
        target = cfg.halls[site].routes.get(body["item"])
        if target is None:
            log.warning("routing: hall %s forwarded item %s, which county.toml does not route from it (add it to its "
                        "[[halls]] routes, or the hall's routed items are out of date)", site, body["item"][:64])
            raise refusal(404, "not_routed")
        forward = {k: body[k] for k in ("item", "applicant", "fields", "materials", "delivery", "address",
                                        "submitted_at") if k in body}
        forward["origin"] = {"site": site, "tracking_no": body["tracking_no"], "name": cfg.halls[site].name}
        try:
            client = _client(cfg, target)
        except CountyConfigError as e:
            log.error("routing: cannot forward %s from %s to %s: %s", body["tracking_no"], site, target, e)
            _alert(cfg, target, "routing_key", f"no routing key for this hall: {e}")
            return jsonify({"error": {"status": 503, "code": "target_key_missing"}}), 503
        try:
            answer = client.post("/routed-applications", forward)
        except ApiError as e:
            if e.status == 0 or e.status >= 500 or e.code == "answer_too_large":  # no answer to pass on: retried
                log.warning("routing: hall %s cannot take %s from %s now (%s); the village's outbox retries", target,
                            body["tracking_no"], site,
                            f"{e.status} {e.code}" if e.status else e.detail.get("cause", "unreachable"))
                return jsonify({"error": {"status": 503, "code": "target_unreachable", "target": target}}), 503
            if e.status in (401, 403):
                log.error("routing: hall %s refused the platform's routing key (%s %s): is the key of county.toml's "
                          "routing_credential in its hall.toml as [[devices]] kind = \"routing\"?", target, e.status,
                          e.code)
                _alert(cfg, target, "routing_key", f"the hall refused the platform's routing key ({e.status} {e.code}): "
                       "put the key of county.toml's routing_credential in its hall.toml as [[devices]] kind = "
                       "\"routing\"")
                return jsonify({"error": {"status": 503, "code": "target_key_refused", "target": target}}), 503
            log.warning("routing: hall %s refused %s from %s: %s %s", target, body["tracking_no"], site, e.status,
                        e.code)
            _alert(cfg, site, "routing_refused", f"{target} refused {body['tracking_no']} ({e.status} {e.code}): "
                   "its form of the item may have changed; the station tells the resident to apply again")
            return jsonify({"error": {"status": 422, "code": "refused_by_target", "target": target,
                                      "detail": {"status": e.status, "code": e.code, "messages": e.messages,
                                                 "fields": e.fields or []}}}), 422
        finally:
            client.close()
        log.info("routing: %s from %s filed at %s as %s%s", body["tracking_no"], site, target,
                 answer.get("tracking_no"), " (already filed: a retry)" if answer.get("duplicate") else "")
        return jsonify({**answer, "target": target}), 200 if answer.get("duplicate") else 201

    @app.get("/api/v1/routing/applications/<target>/<tracking_no>")
    def routing_progress(target: str, tracking_no: str):
        site = caller()
        if target not in set(cfg.halls[site].routes.values()) or not TRACKING.fullmatch(tracking_no):
            raise refusal(404, "not_routed")
        try:
            client = _client(cfg, target)
        except CountyConfigError:
            return jsonify({"error": {"status": 503, "code": "target_key_missing"}}), 503
        try:
            return jsonify(client.get(f"/routed-applications/{site}/{tracking_no}"))
        except ApiError as e:
            if e.status == 404:
                raise refusal(404, "unknown_application") from None
            return jsonify({"error": {"status": 503, "code": "target_unreachable", "target": target}}), 503
        finally:
            client.close()
