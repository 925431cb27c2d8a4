"""ssl and urllib.request wait until they are used (hallq.lazyimports), and work as ever when they are.

Each check runs in a fresh interpreter: what a process imported is the point.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from hallq.testing import ROOT


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", LOADED + textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


LOADED = """
import json, sys
from hallq.lazyimports import is_deferred
def loaded():
    return {"deferred": [n for n in ("ssl", "urllib.request") if is_deferred(n)],
            "loaded": sorted(n for n in ("_ssl", "urllib.request", "http.client", "email") if n in sys.modules
                             and not is_deferred(n))}
"""


def test_a_plain_mqtt_part_imports_neither_openssl_nor_urllib_request():
    got = run("""
        import hallq.mqtt
        import paho.mqtt.client as paho
        from hallq.mqtt import BrokerAddress, Connection
        c = Connection(BrokerAddress.parse("mqtt://127.0.0.1:1"), "site", "board", "b1")
        out = {"made": loaded()}
        c.client.connect_async("127.0.0.1", 1)
        try:
            c.client.reconnect()  # what the network thread does, here: the proxy looked up, the port refused
        except OSError:
            pass
        out["connected"] = loaded()
        out["pysocks"] = paho.socks is not None
        print(json.dumps(out))
    """)
    assert got["made"] == {"deferred": ["ssl", "urllib.request"], "loaded": []}
    if got["pysocks"]:  # paho then reads a proxy from the environment at each connect, with urllib.request
        assert got["connected"] == {"deferred": ["ssl"], "loaded": ["email", "http.client", "urllib.request"]}
    else:
        assert got["connected"] == got["made"]


def test_a_tls_broker_loads_ssl_when_the_connection_is_made():
    got = run("""
        import ssl as stand_in
        from hallq.mqtt import BrokerAddress, Connection
        c = Connection(BrokerAddress.parse("mqtts://127.0.0.1:1"), "site", "board", "b1")
        import ssl
        import paho.mqtt.client as paho
        out = loaded()
        out["context"] = isinstance(c.client._ssl_context, ssl.SSLContext)
        out["same"] = [paho.ssl.SSLError is ssl.SSLError, stand_in.SSLContext is ssl.SSLContext,
                       sys.modules["ssl"] is ssl]
        print(json.dumps(out))
    """)
    assert got == {"deferred": ["urllib.request"], "loaded": ["_ssl"], "context": True, "same": [True, True, True]}


def test_urllib_request_works_once_used_and_a_module_imported_already_is_left_alone():
    got = run("""
        import ssl
        from hallq.lazyimports import deferred, tls_and_proxy
        assert tls_and_proxy() is ssl and deferred("json") is json  # imported already: the real modules
        import urllib.request
        proxies = urllib.request.getproxies()
        out = loaded()
        import urllib
        out["bound"] = urllib.request is sys.modules["urllib.request"] and callable(urllib.request.urlopen)
        print(json.dumps(out))
    """)
    assert got == {"deferred": [], "loaded": ["_ssl", "email", "http.client", "urllib.request"], "bound": True}
