"""The parts that plug into the ``hallq`` command, found by name.

Each package's ``cli.py`` adds its own subcommands (``register(add)``) and,
if it has some, its parts of ``hallq start`` (``hall_parts(args)``, a list of
``(name, argv, needs_server)``). A package that is not installed is simply
not offered. Naming them here, rather than importing them, keeps the command
above the parts: no part imports the launcher.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from types import ModuleType

COMPONENTS = ("queue_server.cli", "display_board.cli", "kiosk.cli", "device_gateway.cli", "simulation.cli",
              "county.cli",       # hallq platform: the county platform above the halls (docs/county.md)
              "launcher.status",  # hallq status: above every part, it reads what each says of itself
              "launcher.init",    # hallq init: a new hall's config from a sample
              "launcher.services",  # hallq services: the systemd units a machine needs
              "launcher.county")  # hallq county start: a whole county on one machine (demo)


def components() -> Iterator[ModuleType]:
    for name in COMPONENTS:
        if importlib.util.find_spec(name) is not None:
            yield importlib.import_module(name)
