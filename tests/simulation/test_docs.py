"""docs/simulation.md keeps up with the simulation file's keys and the command's options."""

from __future__ import annotations

import argparse
import re

from hallq.schema import Arr, Map, Obj
from hallq.testing import ROOT
from simulation.cli import add_arguments
from simulation.scenario import FILE

DOC = ROOT / "docs" / "simulation.md"


def keys(schema, prefix: str = "") -> set[str]:
    out = set()
    for name, field in schema.fields.items():
        out.add(name)
        inner = field.items if isinstance(field, Arr) else field.values if isinstance(field, Map) else field
        if isinstance(inner, Obj):
            out |= keys(inner)
    return out


def test_every_key_of_the_simulation_file_is_documented():
    spans = " ".join(re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", DOC.read_text(encoding="utf-8"), flags=re.S)))
    missing = sorted(k for k in keys(FILE) if not re.search(rf"\b{k}\b", spans))
    assert not missing, f"keys of the simulation file not in docs/simulation.md: {missing}"


def test_every_option_of_the_command_is_documented():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = DOC.read_text(encoding="utf-8")
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    missing = [o for o in options if f"`{o}" not in text]
    assert not missing, f"options of hallq simulate not in docs/simulation.md: {missing}"
