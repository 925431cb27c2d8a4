"""The house's import graph, read from the source (docs/architecture.md, "The packages").

Every module of the project's packages is parsed with ``ast``; each ``import`` and
``from … import …`` (at module level or inside a function, relative ones resolved, ``from pkg
import name`` taken as the submodule when ``name`` is one) is an edge. The test fails on:

* **a cycle** between modules, reported as the path that closes it. An import under ``if
  TYPE_CHECKING:`` never runs, so it cannot make an import fail half-way: it is not part of a
  cycle (a desk may name the service it belongs to in its annotations);
* **a broken layering**: a package imports another the table :data:`MAY_IMPORT` does not
  allow, for its types too. ``hallq`` is the shared base and imports no other package; ``device_drivers``
  imports only ``hallq``; the applications (``queue_server``, ``kiosk``, ``display_board``,
  ``device_gateway``) do not import each other; ``simulation`` and ``launcher`` sit above them.

Plug-ins are named, not imported: ``launcher`` finds each package's ``cli.py`` by its name
(``launcher/components.py``), so the command depends on the parts without an edge back.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hallq", "queue_server", "kiosk", "display_board", "device_gateway", "device_drivers",
            "launcher", "simulation", "county")

# Which packages each package may import, beyond itself; every entry not implied by the
# layering (base ← drivers ← applications ← simulation, launcher) says why.
MAY_IMPORT: dict[str, dict[str, str]] = {
    "hallq": {},
    "device_drivers": {"hallq": "the shared base"},
    "queue_server": {"hallq": "the shared base"},
    "kiosk": {"hallq": "the shared base",
              "device_drivers": "the kiosk's printer, ID reader and scanner"},
    "display_board": {"hallq": "the shared base",
                      "device_drivers": "the announcer speaks through the voice driver"},
    "device_gateway": {"hallq": "the shared base",
                       "device_drivers": "the window devices it drives"},
    "simulation": {"hallq": "the shared base",
                   "queue_server": "the in-memory hall replays the server's own dispatch and estimates "
                                   "(queue_server.domain), so a preview follows the same rules",
                   "launcher": "a fresh real server per scenario (launcher.processes.ServerProcess)"},
    # the county platform sits beside the halls, not above them: it meets them only over MQTT and HTTP
    "county": {"hallq": "the shared base: the journal event contract (both ends build events with the same "
                        "hallq.contract.journal_event), the MQTT connection, the HTTP client of a hall's API"},
    "launcher": {p: "the top of the house: the command and the supervisor start every part"
                 for p in PACKAGES if p != "launcher"},
}


# -- the graph ------------------------------------------------------------------------------------

def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name → file (a package is its ``__init__``)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _known(name: str, known: set[str]) -> str | None:
    """The module ``name`` is, or the nearest package above it that is known (``a.b.attr`` → ``a.b``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes inside ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in {getattr(node.test, "id", None),
                                                            getattr(node.test, "attr", None)}:
            inside.update(id(n) for part in node.body for n in ast.walk(part))
    return inside


def imports_of(module: str, path: Path, known: set[str], type_only: bool = True) -> list[tuple[int, str]]:
    """The project modules ``module`` imports, with the line of each import (without type-only ones if asked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = set() if type_only else _type_checking_only(tree)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..b import y: relative to this module's package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # the submodule when the name is one, else the module itself
                names.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        for name in names:
            target = _known(name, known)
            if target is not None and target != module:
                out.append((node.lineno, target))
    return out


def graph(root: Path, packages: Iterable[str], type_only: bool = True) -> dict[str, dict[str, int]]:
    """module → {imported module: line of the first such import}; ``type_only=False``: what runs."""
    found = modules(root, packages)
    known = set(found)
    edges: dict[str, dict[str, int]] = {}
    for module, path in found.items():
        mine = edges.setdefault(module, {})
        for line, target in imports_of(module, path, known, type_only):
            mine.setdefault(target, line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """One closed path (``[a, b, …, a]``) for each group of modules that import each other in a ring."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's strongly connected components, without recursion
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_ring(group, edges) for group in sorted(groups)]


def _ring(group: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """The shortest path from the group's first module back to itself, inside the group."""
    inside = set(group)
    start = group[0]
    paths = {child: [start, child] for child in sorted(edges.get(start, ())) if child in inside}
    frontier = list(paths)
    while start not in paths:
        nxt = []
        for node in frontier:
            for child in sorted(edges.get(node, ())):
                if child in inside and child not in paths:
                    paths[child] = paths[node] + [child]
                    nxt.append(child)
        frontier = nxt
    return paths[start]


def forbidden(edges: dict[str, dict[str, int]], may_import: dict[str, dict[str, str]]) -> list[str]:
    """Each import from one package into another that ``may_import`` does not allow."""
    out = []
    for module, targets in sorted(edges.items()):
        mine = module.split(".")[0]
        for target, line in sorted(targets.items()):
            theirs = target.split(".")[0]
            if theirs != mine and theirs not in may_import.get(mine, {}):
                out.append(f"{module} (line {line}) imports {target}: {mine} may not import {theirs}")
    return out


def _describe(ring: list[str], edges: dict[str, dict[str, int]]) -> str:
    return " → ".join(f"{a} (line {edges[a][b]})" for a, b in zip(ring, ring[1:])) + f" → {ring[-1]}"


# -- the house ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def house() -> dict[str, dict[str, int]]:
    return graph(ROOT, PACKAGES)


@pytest.fixture(scope="module")
def running() -> dict[str, dict[str, int]]:
    return graph(ROOT, PACKAGES, type_only=False)


def test_every_package_is_read(house):
    read = {m.split(".")[0] for m in house}
    assert read == set(PACKAGES), f"packages not found under {ROOT}: {set(PACKAGES) - read}"
    assert set(MAY_IMPORT) == set(PACKAGES)


def test_no_import_cycles(running):
    rings = cycles(running)
    assert not rings, "modules import each other in a ring:\n" + "\n".join(_describe(r, running) for r in rings)


def test_layering(house):
    problems = forbidden(house, MAY_IMPORT)
    assert not problems, "\n".join(problems)


def test_the_shared_base_imports_no_application():
    assert MAY_IMPORT["hallq"] == {}
    assert set(MAY_IMPORT["device_drivers"]) == {"hallq"}
    apps = {"queue_server", "kiosk", "display_board", "device_gateway"}
    for app in apps:
        assert not set(MAY_IMPORT[app]) & (apps | {"launcher", "simulation"}), app


# -- the checks find what they look for (a planted house in a temporary directory) ----------------

def _plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_planted_cycle_is_found_through_function_level_and_relative_imports(tmp_path):
    _plant(tmp_path, {
        "base/__init__.py": "",
        "base/a.py": "from base import b\n",             # `from pkg import name`: the submodule b
        "base/b.py": "def f():\n    from .c import x\n",  # function level, relative
        "base/c.py": "import base.a as again\nx = 1\n",
        "base/d.py": "from base.c import x\n",           # outside the ring
    })
    edges = graph(tmp_path, ["base"])
    assert edges["base.a"] == {"base.b": 1} and edges["base.b"] == {"base.c": 2}
    assert cycles(edges) == [["base.a", "base.b", "base.c", "base.a"]]
    assert "base.a (line 1) → base.b (line 2) → base.c (line 1) → base.a" == _describe(cycles(edges)[0], edges)


def test_a_planted_forbidden_import_is_found(tmp_path):
    _plant(tmp_path, {
        "hallq/__init__.py": "",
        "hallq/clock.py": "import os\n\ndef now():\n    from kiosk.screens import home\n",
        "kiosk/__init__.py": "from hallq import clock\n",
        "kiosk/screens/__init__.py": "",
        "kiosk/screens/home.py": "from ..api import client\n",  # the package, `client` is a name
        "kiosk/api.py": "client = None\n",
    })
    edges = graph(tmp_path, ["hallq", "kiosk"])
    assert edges["kiosk.screens.home"] == {"kiosk.api": 1}
    rules = {"hallq": {}, "kiosk": {"hallq": "the shared base"}}
    assert forbidden(edges, rules) == [
        "hallq.clock (line 4) imports kiosk.screens.home: hallq may not import kiosk"]
    assert cycles(edges) == []


def test_a_type_only_import_closes_no_cycle_but_still_counts_for_the_layering(tmp_path):
    _plant(tmp_path, {
        "hallq/__init__.py": "",
        "hallq/feed.py": "import typing\n\nif typing.TYPE_CHECKING:\n    from kiosk.app import App\n",
        "kiosk/__init__.py": "",
        "kiosk/app.py": "from __future__ import annotations\nfrom typing import TYPE_CHECKING\n\n"
                        "from kiosk import desk\n",
        "kiosk/desk.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from kiosk.app import App\n",
    })
    rules = {"hallq": {}, "kiosk": {"hallq": "the shared base"}}
    assert cycles(graph(tmp_path, ["hallq", "kiosk"], type_only=False)) == []
    everything = graph(tmp_path, ["hallq", "kiosk"])
    assert cycles(everything) == [["kiosk.app", "kiosk.desk", "kiosk.app"]]
    assert forbidden(everything, rules) == ["hallq.feed (line 4) imports kiosk.app: hallq may not import kiosk"]
