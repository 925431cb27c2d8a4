"""Modules a library imports at its top but a process seldom uses, loaded when first used (issue 16, item 3).

paho-mqtt 2.x imports ``ssl`` (OpenSSL's libssl) for TLS brokers and ``urllib.request`` (with
``http.client`` and ``email``) to read a proxy from the environment, in every process that talks to the
broker: about 3 MB of RSS each in the board, the announcer, the gateway and the kiosk, for a hall's own
broker on plain TCP without a proxy (docs/deployment.md, "The small processes' memory").

:func:`deferred` puts a stand-in for such a module in ``sys.modules`` before the library is imported: the
library's ``import ssl`` binds the stand-in, and the first attribute anyone reads from it (``ssl.
create_default_context`` for an ``mqtts://`` broker, ``urllib.request.getproxies`` when PySocks is
installed, an ``except ssl.SSLError`` clause being matched) imports the real module, under a lock, and
the stand-in forwards every read to it from then on. A process that does use the module pays for it then,
not at start; nothing else changes (``import ssl`` after that gets the real module, and the stand-in reads
through to it). A module already imported is left as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """Stands in for a module not imported yet; its first attribute read imports it."""

    def __getattr__(self, attr: str) -> Any:  # only for what the stand-in itself lacks
        return getattr(load(self.__name__), attr)


def load(name: str) -> types.ModuleType:
    """The real module ``name``: imported now if only its stand-in is there (thread-safe)."""
    module = sys.modules.get(name)
    if module is not None and not isinstance(module, _Deferred):
        return module
    with _lock:
        if isinstance(sys.modules.get(name), _Deferred):
            del sys.modules[name]
        return importlib.import_module(name)  # binds the real one on its parent package too


def deferred(name: str) -> types.ModuleType:
    """The module ``name``: the real one if it is imported already (or not installed: then the importer's
    own ``import`` fails as it would), else a stand-in, put in ``sys.modules``, that imports it when used."""
    with _lock:
        module = sys.modules.get(name)
        if module is not None:
            return module
        spec = importlib.util.find_spec(name)
        if spec is None:
            return importlib.import_module(name)
        stand_in = _Deferred(name)
        stand_in.__spec__ = spec
        sys.modules[name] = stand_in
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, stand_in)  # find_spec imported the parent package
        return stand_in


def tls_and_proxy() -> types.ModuleType:
    """Stand-ins for what paho-mqtt imports for TLS (``ssl``) and for a proxy (``urllib.request``, with
    ``http.client`` and ``email``), made before paho (or anything else) imports them; returns ``ssl``."""
    deferred("urllib.request")
    return deferred("ssl")


def is_deferred(name: str) -> bool:
    """Whether ``name`` is still only a stand-in (for tests and diagnostics)."""
    return isinstance(sys.modules.get(name), _Deferred)
