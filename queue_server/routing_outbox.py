"""The village station's outbox of routed applications (就近办 across halls), on a thread of the hall's server.

Every ``[routing] refresh_seconds`` (county-bridge.toml; 30 by default) it talks to the county platform with
the hall's county key (the ``[platform]`` link that ``GET /api/v1/nearby`` uses, queue_server/nearby.py):

1. **the routed items**: ``GET /api/v1/routing/items`` — which items county.toml routes from this hall and the
   handling hall's definition of each — kept in ``routed_items`` (queue_server/domain/routing.py), so the kiosk
   offers them and checks their forms with the county network down;
2. **forwarding**: each queued application (oldest first) ``POST /api/v1/routing/applications``. The handling
   hall files it once per (this site, tracking number), so a retry after a timeout or a crash between its answer
   and our commit files nothing twice (it answers ``duplicate``). An unreachable platform or handling hall is
   retried with a growing delay (up to ``max_retry_seconds``); a refusal of the handling hall (its form changed
   under the item, the item is gone) is final: kept with the reason, shown to the clerk and the resident, never
   retried, one ERROR line with the cause and the fix;
3. **progress**: each forwarded application still open there, ``GET /api/v1/routing/applications/<hall>/<no>``,
   its view kept with the time it was fetched; a new status is journaled (``routed_progress``; ready for
   collection: ``ready: true``).

Nothing a resident or a clerk does waits for this thread: the receipt is the local transaction. With the
platform unreachable it logs one WARNING per outage and one INFO when it answers again.

With several server processes (``hallq serve --workers N``) each starts an outbox, but only the one holding
``<data dir>/routing.lock`` runs rounds (queue_server/leadership.py); if it dies, another takes over within
``refresh_seconds``. An application queued in another process rings the holder's doorbell (``Doorbell``), so it is
forwarded at once, whichever process took it, not at the holder's next round. Each of the outcomes below is also
written only while the application is still queued, so a round that raced another (an operator's second server
on the same files) cannot journal it twice.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hallq.bridge import FILE
from hallq.client import ApiError, HallClient
from queue_server.leadership import Doorbell, Leadership
from queue_server.nearby import NearbyConfigError, PlatformLink
from queue_server.nearby import load as load_link

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

log = logging.getLogger("hallq.server.routing")

KEYS = {"refresh_seconds", "max_retry_seconds"}


@dataclass(frozen=True)
class RoutingSettings:
    refresh_seconds: float = 30.0
    max_retry_seconds: float = 600.0


def load_settings(folder: Path) -> RoutingSettings:
    path = Path(folder) / FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get("routing", {}) if path.exists() else {}
    except tomllib.TOMLDecodeError as e:
        raise NearbyConfigError(f"{path}: not valid TOML ({e})") from None
    unknown = set(raw) - KEYS
    if unknown:
        raise NearbyConfigError(f"{path}: [routing] has unknown keys {sorted(unknown)} (known: {sorted(KEYS)})")
    for name, (low, high) in {"refresh_seconds": (0.2, 3600), "max_retry_seconds": (1, 86400)}.items():
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not low <= value <= high):
            raise NearbyConfigError(f"{path}: [routing] {name} must be a number from {low} to {high}, not {value!r}")
    return RoutingSettings(**{k: float(v) for k, v in raw.items()})


class Outbox:
    def __init__(self, service: QueueService, link: PlatformLink, settings: RoutingSettings, data_dir: Path) -> None:
        self.service = service
        self.lead = Leadership(Path(data_dir) / "routing.lock")
        self.bell = Doorbell(self.lead.path, "routing")  # the other processes' new applications wake the holder
        self.link = link
        self.settings = settings
        self.site = service.hall.config.site
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._items_failing = False
        self.rounds = 0

    def start(self) -> None:
        self.service.routing.__class__.STALE_SECONDS = max(600.0, 4 * self.settings.refresh_seconds)
        self._thread = threading.Thread(target=self._run, name="hallq-routing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._thread is None or not self._thread.is_alive():
            # a round still running (twenty forwards, each up to twice 10 s) keeps the duty until the process ends:
            # freed now, another process could send what this round is sending
            self.bell.close()
            self.lead.release()

    def wake(self) -> None:
        """Try now (a new application was queued): this process's round, or the holder's in another process."""
        self._wake.set()
        if not self.lead.held:
            self.bell.ring()

    def _lead(self) -> bool:
        """Hold the duty (another server process on this data directory may be the one forwarding); on taking it,
        listen for the others' rings."""
        if self.lead.held:
            return True
        if not self.lead.take():
            return False
        try:
            self.bell.listen(self._wake.set, "hallq-routing-wake")
        except OSError as e:
            log.warning("routed applications: the other server processes cannot wake this one (%s); an application "
                        "they queue is forwarded within %g s", e, self.settings.refresh_seconds)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._lead():
                    self.run_once()
            except Exception:  # a bug must not end the thread: the next round tries again
                log.exception("routed applications: a round failed")
            self._wake.wait(self.settings.refresh_seconds)
            self._wake.clear()

    def _client(self) -> HallClient:
        return HallClient(self.link.url, token=self.link.key, timeout=10, retries=1, ca_file=self.link.cafile or None)

    def run_once(self) -> None:
        client = self._client()
        try:
            try:
                self._items(client)
                self._items_failing = False
            except ApiError as e:  # the definitions wait for the next round; forwarding does not
                if not self._items_failing:  # once, not every round (an older platform answers 404 for good)
                    log.warning("routed applications: the routed items could not be refreshed (%s %s); kept the last "
                                "ones", e.status, e.code)
                self._items_failing = True
            self._forward(client)
            self._follow(client)
        except _Unreachable as e:
            if not self._failing:
                log.warning("routed applications: the county platform %s cannot be reached (%s): applications wait "
                            "in the outbox and are forwarded when it answers; retrying every %g s", self.link.url,
                            e, self.settings.refresh_seconds)
            self._failing = True
            return
        finally:
            client.close()
            self.rounds += 1
        if self._failing:
            log.info("routed applications: the county platform %s answers again", self.link.url)
        self._failing = False

    def _call(self, client: HallClient, method: str, path: str, body: dict | None = None):
        try:
            return client.request(method, f"{path}{'&' if '?' in path else '?'}site={self.site}", body)
        except ApiError as e:
            if e.status == 0:
                raise _Unreachable(e.detail.get("cause", "unreachable") if e.detail else "unreachable") from None
            if e.status == 401:
                raise _Unreachable("HTTP 401: is this hall's [platform] key_file the county's key for it?") from None
            raise

    def _items(self, client: HallClient) -> None:
        answer = self._call(client, "GET", "/routing/items")
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            log.error("routed applications: the platform's routed items are not a list; kept the last ones")
            return
        changed = self.service.routing.store_items([e for e in items if isinstance(e, dict) and "item" in e])
        if changed:
            log.info("routed applications: %d routed item(s) updated from the county platform", changed)

    def _forward(self, client: HallClient) -> None:
        for tracking_no, payload in self.service.routing.due():
            try:
                answer = self._call(client, "POST", "/routing/applications", payload)
            except ApiError as e:
                if e.status == 422 and e.code == "refused_by_target":
                    # the handling hall's own error, as the platform passed it on (detail: status, code, messages, fields)
                    error = e.detail if isinstance(e.detail, dict) and e.detail.get("code") else {"code": e.code}
                    log.error("routed application %s: the handling hall refused it (%s): the resident is told to "
                              "apply again; if the hall's form of item %s changed, the station's copy is refreshed "
                              "within %g s", tracking_no, error.get("code"), payload.get("item"),
                              self.settings.refresh_seconds)
                    self.service.routing.refused(tracking_no, error)
                elif e.status in (400, 404, 413):
                    log.error("routed application %s: the county platform refused it (%s %s): is item %s still "
                              "routed from this hall in county.toml?", tracking_no, e.status, e.code,
                              payload.get("item"))
                    self.service.routing.refused(tracking_no, {"code": e.code, "status": e.status,
                                                               "messages": e.messages})
                else:  # 503: the handling hall cannot take it now; anything else: try again later
                    delay = self._delay(tracking_no)
                    log.warning("routed application %s not forwarded yet (%s %s); next try in %d s", tracking_no,
                                e.status, e.code, delay)
                    self.service.routing.failed(tracking_no, f"{e.status} {e.code}", delay)
                continue
            except _Unreachable as e:
                self.service.routing.failed(tracking_no, f"unreachable: {e}", 0)
                raise
            if not self.service.routing.forwarded(tracking_no, answer):
                continue  # settled meanwhile by another round (a second server on these files): nothing to add
            log.info("routed application %s forwarded to %s (filed there as %s%s)", tracking_no, answer.get("target"),
                     answer.get("tracking_no"), ", already filed before" if answer.get("duplicate") else "")

    def _delay(self, tracking_no: str) -> float:
        view = self.service.routing.get(tracking_no, back_office=True) or {}
        attempts = (view.get("routed") or {}).get("attempts", 0)
        return min(self.settings.refresh_seconds * 2 ** min(attempts, 12), self.settings.max_retry_seconds)

    def _follow(self, client: HallClient) -> None:
        for tracking_no, target in self.service.routing.to_follow():
            try:
                view = self._call(client, "GET", f"/routing/applications/{target}/{tracking_no}")
            except ApiError as e:
                log.warning("routed application %s: no progress from %s now (%s %s)", tracking_no, target, e.status,
                            e.code)
                continue
            if isinstance(view, dict) and self.service.routing.progress(tracking_no, view):
                log.info("routed application %s is now %s at %s", tracking_no, view.get("status"), target)


class _Unreachable(Exception):
    pass


def start(service: QueueService, config_path: Path, data_dir: Path) -> Outbox | None:
    """The outbox, started, for a hall linked to a county platform; None otherwise (a broken link: logged)."""
    try:
        link = load_link(Path(config_path).parent)
        settings = load_settings(Path(config_path).parent)
    except NearbyConfigError as e:
        log.error("routed applications are not forwarded: %s", e)
        return None
    if link is None:
        return None
    outbox = Outbox(service, link, settings, data_dir)
    outbox.start()
    return outbox
