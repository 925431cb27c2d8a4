"""就近办 at the hall: the current waits of nearby halls, from the county platform, cached.

A hall of a county can show residents where else the same business is served and how long the wait is there
(the phone ticket page, the kiosk's confirmation, ``GET /api/v1/nearby``). The numbers are the county
platform's (``GET /api/v1/nearby`` there, county/nearby.py). The hall asks for them in the background every
``refresh_seconds`` and keeps the last answer; a resident's request only reads that copy, so nothing a
resident does waits for the county. When the county cannot be reached the copy ages out (after three
refreshes) and the hall shows no nearby section: no error, one WARNING in the log
when the county becomes unreachable and one INFO line when it answers again, never one per request.

The link is the ``[platform]`` section of ``county-bridge.toml`` beside hall.toml (the file ``hallq platform
bridge-config`` writes; its ``[bridge]`` carries the journal out)::

    [platform]
    url = "https://county.example.gov.cn:8090"   # the county platform (hallq platform serve)
    key_file = "county-platform.key"              # the county's key for this hall (the same key as the
                                                  # hall's [[devices]] kind = "county"; county.toml's credential)
    cafile = ""                                   # the platform's CA when it speaks HTTPS with its own
    refresh_seconds = 45                          # how often to ask (1 to 600)
    show_after_minutes = 20                       # the phone page and the kiosk show nearby halls from this
                                                  # estimated wait here (0: always)

A hall without the file, or without ``[platform]``, has no nearby section anywhere.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallq.bridge import FILE

log = logging.getLogger("hallq.server.nearby")

KEYS = {"url", "key_file", "cafile", "refresh_seconds", "show_after_minutes", "limit"}


class NearbyConfigError(ValueError):
    """A mistake in county-bridge.toml's [platform]; the message says which key and how to fix it."""


@dataclass(frozen=True)
class PlatformLink:
    url: str
    key: str
    cafile: str = ""
    refresh_seconds: float = 45.0
    show_after_minutes: int = 20
    limit: int = 3

    @property
    def max_age(self) -> float:
        """How long an answer is shown after it was fetched: three refreshes."""
        return 3 * self.refresh_seconds


def load(folder: Path) -> PlatformLink | None:
    """The link to the county platform of the hall whose hall.toml is in ``folder``; None without one."""
    path = Path(folder) / FILE
    if not path.exists():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get("platform")
    except tomllib.TOMLDecodeError as e:
        raise NearbyConfigError(f"{path}: not valid TOML ({e})") from None
    if raw is None:
        return None
    unknown = set(raw) - KEYS
    if unknown:
        raise NearbyConfigError(f"{path}: [platform] has unknown keys {sorted(unknown)} (known: {sorted(KEYS)})")
    url = str(raw.get("url", "")).rstrip("/")
    if not url.startswith(("http://", "https://")) or any(c in url for c in " \n\t?#"):
        raise NearbyConfigError(f"{path}: [platform] url must be the county platform's http(s)://host:port, "
                                f"not {url!r}")
    key_file = str(raw.get("key_file", ""))
    if not key_file:
        raise NearbyConfigError(f"{path}: [platform] needs key_file, the file holding the county's key for this "
                                "hall (the county's operator gives it; never the key itself in this file)")
    key_path = Path(key_file) if Path(key_file).is_absolute() else path.parent / key_file
    try:
        key = key_path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise NearbyConfigError(f"{path}: cannot read [platform] key_file {key_path} ({e.strerror})") from None
    if not key or "\n" in key:
        raise NearbyConfigError(f"{path}: [platform] key_file {key_path} must hold one line, the key")
    numbers = {"refresh_seconds": (1, 600), "show_after_minutes": (0, 600), "limit": (1, 10)}
    for name, (low, high) in numbers.items():
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not low <= value <= high):
            raise NearbyConfigError(f"{path}: [platform] {name} must be a number from {low} to {high}, not {value!r}")
    return PlatformLink(url=url, key=key, cafile=str(raw.get("cafile", "")),
                        refresh_seconds=float(raw.get("refresh_seconds", 45)),
                        show_after_minutes=int(raw.get("show_after_minutes", 20)), limit=int(raw.get("limit", 3)))


class Nearby:
    """The last answer of the county platform for this hall's businesses, refreshed on a thread of its own."""

    def __init__(self, link: PlatformLink, site: str, businesses: list[str]) -> None:
        self.link = link
        self.site = site
        self.businesses = list(businesses)
        self._answer: dict[str, list[dict]] = {}
        self._as_of = ""
        self._fetched_at: float | None = None  # time.monotonic() of the last good answer
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context = ssl.create_default_context(cafile=link.cafile or None) if link.url.startswith("https") \
            else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hallq-nearby", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # a fault of ours must not end the thread: the halls would be shown stale for good
                log.exception("nearby halls: a refresh failed; trying again in %d s", self.link.refresh_seconds)
            self._stop.wait(self.link.refresh_seconds)

    def refresh(self) -> bool:
        """Ask the platform once; keep its answer. False (and one WARNING per outage) when it cannot answer."""
        query = urllib.parse.urlencode({"site": self.site, "business": ",".join(self.businesses[:32]),
                                        "limit": self.link.limit})
        req = urllib.request.Request(f"{self.link.url}/api/v1/nearby?{query}",
                                     headers={"Authorization": f"Bearer {self.link.key}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5, context=self._context) as r:
                body = json.loads(r.read(1024 * 1024))
            found = body["businesses"]
            if not isinstance(found, dict):
                raise ValueError("businesses is not an object")
        except urllib.error.HTTPError as e:
            hint = " (is this hall's key in [platform] key_file the county's key for it?)" if e.code == 401 else ""
            return self._failed(f"HTTP {e.code}{hint}")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:  # RecursionError: nested too deep
            return self._failed(str(getattr(e, "reason", None) or e) or type(e).__name__)
        self.accept(found, str(body.get("as_of", "")))
        if self._failing:
            log.info("the county platform %s answers again: nearby halls' waits are shown", self.link.url)
        self._failing = False
        return True

    def accept(self, found: dict[str, list[dict]], as_of: str) -> None:
        """Keep an answer of the platform (``businesses`` of GET /api/v1/nearby) as the fresh one."""
        self._answer, self._as_of, self._fetched_at = found, as_of, time.monotonic()

    def _failed(self, why: str) -> bool:
        if not self._failing:
            log.warning("the county platform %s cannot be reached (%s): nearby halls' waits are not shown once the "
                        "last answer is %d s old; retrying every %d s", self.link.url, why, self.link.max_age,
                        self.link.refresh_seconds)
        self._failing = True
        return False

    def halls(self, business: str) -> dict[str, Any]:
        """``{"available": bool, "as_of": ..., "halls": [...]}`` for ``business`` from the last fresh answer."""
        fresh = self._fetched_at is not None and time.monotonic() - self._fetched_at <= self.link.max_age
        if not fresh:
            return {"available": False, "as_of": None, "halls": []}
        return {"available": True, "as_of": self._as_of or None, "halls": list(self._answer.get(business, []))}


def start(config_path: Path, site: str, businesses: list[str]) -> Nearby | None:
    """The hall's nearby cache, started; None when the hall has no county platform (or a broken link: logged)."""
    try:
        link = load(Path(config_path).parent)
    except NearbyConfigError as e:
        log.error("nearby halls are not shown: %s", e)
        return None
    if link is None:
        return None
    nearby = Nearby(link, site, businesses)
    nearby.start()
    return nearby
