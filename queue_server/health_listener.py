"""The server's ear on ``hallq/<site>/devices/+/+/health``: each device's latest report, kept for the consoles.

Kiosks and the device gateway publish their devices' health retained, so on
every (re)connect the broker replays the latest report of each; the server
stores it (:func:`queue_server.domain.attention.record_health`) and journals
a change, and the consoles' attention bar shows "kiosk-1-printer: 缺纸" to the
people who can fix it. Only the process that publishes (the MQTT leader)
listens. A report that does not parse is logged (at most once a minute) and
dropped; an empty retained message (a device removed) forgets the device.

A report is its publisher's: the ``<owner>`` of ``devices/<owner>/<device>/health``
is the identity that wrote it (the broker's ACL lets each identity write only
under its own id), and the server keeps it as the report of (owner, device).
A report, or an empty message, from one owner never replaces or forgets what
another owner reported, whatever device it names: ``kiosk-1`` publishing
``devices/kiosk-1/strip-1/health`` cannot hide the gateway's report of its
``strip-1`` (schema/026).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from hallq import contract
from queue_server.domain import attention
from queue_server.domain.context import Actor

log = logging.getLogger("hallq.health")


def health_handler(service, site: str) -> tuple[str, Callable[[str, bytes, bool], None]]:
    """The topic filter and the handler to subscribe with."""
    last_warning = [-1e9]

    def handle(topic: str, payload: bytes, retained: bool) -> None:
        found = contract.identify(site, topic)
        if found is None or found[0] is not contract.DEVICE_HEALTH:
            return
        owner, device = found[1]["owner"], found[1]["device"]
        if not payload:  # the owner removed its device: its own report goes, nobody else's
            with service.transaction(Actor("device", owner)) as tx:
                attention.forget_health(tx, owner, device)
            return
        try:
            data = contract.decode(contract.DEVICE_HEALTH, payload)
        except contract.PayloadError as e:
            if time.monotonic() - last_warning[0] > 60:
                last_warning[0] = time.monotonic()
                log.warning("ignored a device health report on %s: %s. The device's driver publishes it: "
                            "update that hallq installation (said at most once a minute)", topic, e)
            return
        if data["device"] != device:  # a report about another device than its topic says: not trusted
            if time.monotonic() - last_warning[0] > 60:
                last_warning[0] = time.monotonic()
                log.warning("ignored a health report on %s that names device %r (said at most once a minute)",
                            topic, data["device"])
            return
        with service.transaction(Actor("device", owner)) as tx:
            if attention.record_health(tx, data, owner):
                log.info("device %s of %s (%s): %s", data["device"], owner, data["kind"],
                         "ok" if data["ok"] and not data.get("problems") else ", ".join(data.get("problems") or
                                                                                      ["not ok"]))

    return contract.DEVICE_HEALTH.pattern.format(site=site, owner="+", device="+"), handle
