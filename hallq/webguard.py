"""Checks of a browser's request shared by a hall's consoles (queue_server/http_common.py) and the county's
(county/console_web.py)."""

from __future__ import annotations

from urllib.parse import urlsplit


def foreign_origin(origin: str | None, host: str) -> bool:
    """Whether a request's ``Origin`` names another site than ``host`` (the Host it was sent to, host:port).

    Only the host and port are compared, not the scheme: behind a reverse proxy that ends TLS (nginx, Caddy), the
    browser's ``https://`` origin reaches the server on plain HTTP. No ``Origin`` (an older browser, a same-origin GET)
    and ``null`` are not foreign; a value that is not a URL at all is.

    >>> foreign_origin("https://county.example", "county.example"), foreign_origin("https://evil.example", "county.example")
    (False, True)
    """
    if not origin or origin == "null":
        return False
    try:
        return urlsplit(origin).netloc != host
    except ValueError:  # "http://[": not even a URL (an unclosed IPv6 host)
        return True
