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

# The long-running commands of ``hallq start``'s parts and the component that registers each (``serve`` is the
# command's own: none). ``python -m launcher <one of these>`` builds the parser of that component alone, so a
# part does not carry every other part's modules all day (docs/deployment.md, "The small processes' memory");
# tests/launcher/test_small_processes.py checks that each component registers the commands named here.
PART_COMMANDS: dict[str, str | None] = {"serve": None, "board": "display_board.cli", "announce": "display_board.cli",
                                        "kiosk": "kiosk.cli", "devices": "device_gateway.cli",
                                        "simulate": "simulation.cli"}


def components(names: tuple[str, ...] = COMPONENTS) -> Iterator[ModuleType]:
    for name in names:
        if importlib.util.find_spec(name) is not None:
            yield importlib.import_module(name)


def command_of(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names (the first word that is not an option: the command's own take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)
