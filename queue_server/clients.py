"""The client address of a request to the hall's server, by the hall's ``[security] trusted_proxies``
(the rule itself, shared with the county platform: hallq/clientaddr.py)."""

from __future__ import annotations

from flask import current_app, request

from hallq.clientaddr import MAX_LEN, Network, client_address, of_request

__all__ = ["MAX_LEN", "Network", "client_address", "request_client"]


def request_client() -> str:
    """The client address of the current request, by the hall's ``[security] trusted_proxies``."""
    return of_request(request, current_app.extensions["hallq"].hall.config.security.trusted_proxies)
