"""Who is at the other end of a request: the client's address, behind trusted reverse proxies.

Shared by the hall's server (queue_server/clients.py) and the county platform (county/app.py), each with
its own ``[security] trusted_proxies``.

Behind a reverse proxy (nginx, Caddy: how docs/deployment.md serves the consoles over HTTPS)
the proxy is the direct peer of every request, so without help the server would see one address
for every clerk. ``[security] trusted_proxies`` lists the proxies' addresses or networks. Only
when the direct peer is one of them is ``X-Forwarded-For`` read, and then from the right: each
trusted proxy appends the address it received the request from, so the right-most address that
is not a trusted proxy is the client. Whatever a client wrote into the header itself stands to
the left of that and is never taken; from a peer that is not a trusted proxy the header is
ignored altogether.

>>> nets = (ipaddress.ip_network("10.0.0.2"),)
>>> client_address("10.0.0.2", "1.1.1.1, 192.168.3.7", nets)  # 1.1.1.1 was written by the client
'192.168.3.7'
>>> client_address("192.168.3.9", "1.1.1.1", nets)  # not a proxy: the header is ignored
'192.168.3.9'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_LEN = 64  # an address as stored and journaled


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 10.0.0.1:443
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip, proxies: Sequence[Network]) -> bool:
    return ip is not None and any(ip.version == net.version and ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The client's address: the peer's, or through trusted proxies the right-most untrusted forwarded one."""
    peer_ip = _ip(peer or "")
    here = str(peer_ip) if peer_ip is not None else (peer or "-")[:MAX_LEN]
    if not forwarded_for or not _trusted(peer_ip, proxies):
        return here
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        ip = _ip(hop)
        if not _trusted(ip, proxies):
            # appended by a trusted proxy, so it is where the request came from
            return str(ip) if ip is not None else hop.strip()[:MAX_LEN]
        here = str(ip)
    return here  # every hop is a proxy: the left-most one is the client


def of_request(request, proxies: Sequence[Network]) -> str:
    """The client address of a Flask/Werkzeug ``request``, through ``proxies`` (the header read only with some)."""
    forwarded = ",".join(request.headers.getlist("X-Forwarded-For")) if proxies else None
    return client_address(request.remote_addr, forwarded, proxies)


def is_trusted(peer: str | None, proxies: Sequence[Network]) -> bool:
    """Whether ``peer`` (a request's remote address) is one of the trusted reverse proxies."""
    return _trusted(_ip(peer or ""), proxies)
