"""Finding the journal actions the server writes, for test_journal_actions.py and this folder's conftest.

* :func:`written_actions` reads the source (AST): every ``….journal(action, …)`` call
  in ``queue_server/``, its action followed back through conditional expressions,
  local assignments and the callers of the function it is a parameter of; an
  f-string action must be declared in ``COMPUTED`` with what it can produce.
  What cannot be followed is returned as unresolved, for the test to fail on.
* :func:`sql_actions` reads the action codes named in SQL (``action = '…'``,
  ``action IN ('…', …)``) in the Python sources and the migrations.
* :class:`JournalActions` records every database a test opens and reads the
  distinct ``journal.action`` of each (before it is closed, or at the end).
"""

from __future__ import annotations

import ast
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

Site = str  # "queue_server/domain/windows.py:108"


def _computed() -> dict[str, set[str]]:
    """f-string actions, by their template (``{}`` for each value), and every action they can be."""
    from queue_server.domain.applications import TRANSITIONS

    statuses = set(TRANSITIONS) | {s for tos in TRANSITIONS.values() for s in tos}
    return {"application_{}": {f"application_{s}" for s in statuses}}


@dataclass
class Written:
    actions: dict[str, list[Site]] = field(default_factory=dict)  # code -> where it is written
    unresolved: list[tuple[Site, str]] = field(default_factory=list)  # (where, the expression)

    def add(self, code: str, site: Site) -> None:
        self.actions.setdefault(code, []).append(site)


class _Module:
    def __init__(self, path: Path, label: str) -> None:
        self.label = label
        self.tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node

    def enclosing(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node
        return None

    def calls_of(self, fname: str) -> Iterable[ast.Call]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                f = node.func
                if (isinstance(f, ast.Name) and f.id == fname) or (isinstance(f, ast.Attribute) and f.attr == fname):
                    yield node

    def site(self, node: ast.AST) -> Site:
        return f"{self.label}:{node.lineno}"


def _argument(mod: _Module, call: ast.Call, func: ast.FunctionDef | ast.AsyncFunctionDef,
              param: str) -> ast.expr | None:
    """The expression ``call`` passes for ``func``'s parameter ``param`` (None if not passed plainly)."""
    for kw in call.keywords:
        if kw.arg == param:
            return kw.value
    positional = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    if param not in positional:
        return None
    i = positional.index(param)
    if isinstance(mod.parent.get(func), ast.ClassDef) and isinstance(call.func, ast.Attribute):
        i -= 1  # a method called as obj.f(…): self is not among the arguments
    if 0 <= i < len(call.args) and not isinstance(call.args[i], ast.Starred):
        return call.args[i]
    return None


def _resolve(mod: _Module, expr: ast.expr, computed: dict[str, set[str]], depth: int = 0) -> set[str] | None:
    """Every action ``expr`` can be, or None when it cannot be followed."""
    if depth > 5:
        return None
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        a, b = _resolve(mod, expr.body, computed, depth), _resolve(mod, expr.orelse, computed, depth)
        return None if a is None or b is None else a | b
    if isinstance(expr, ast.JoinedStr):
        template = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in expr.values)
        return set(computed[template]) if template in computed else None
    if isinstance(expr, ast.Name):
        func = mod.enclosing(expr)
        if func is None:
            return None
        params = [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]
        if expr.id in params:  # follow every caller in this module
            out: set[str] = set()
            callers = list(mod.calls_of(func.name))
            if not callers:
                return None
            for call in callers:
                arg = _argument(mod, call, func, expr.id)
                got = _resolve(mod, arg, computed, depth + 1) if arg is not None else None
                if got is None:
                    return None
                out |= got
            return out
        assigned = [n.value for n in ast.walk(func) if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
        if not assigned:
            return None
        out = set()
        for value in assigned:
            got = _resolve(mod, value, computed, depth + 1)
            if got is None:
                return None
            out |= got
        return out
    return None


def written_actions(root: Path, package: str = "queue_server", computed: dict[str, set[str]] | None = None) -> Written:
    """Every action written to the journal by the sources under ``root / package``."""
    computed = _computed() if computed is None else computed
    found = Written()
    for path in sorted((root / package).rglob("*.py")):
        mod = _Module(path, path.relative_to(root).as_posix())
        for node in ast.walk(mod.tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "journal"):
                continue
            expr = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "action"), None)
            if expr is None:
                continue  # a read of the journal (a client's journal()), not a write
            codes = _resolve(mod, expr, computed)
            if codes is None:
                found.unresolved.append((mod.site(node), ast.unparse(expr)))
            else:
                for code in codes:
                    found.add(code, mod.site(node))
    return found


_SQL_ONE = re.compile(r"\baction\s*=\s*'([A-Za-z0-9_]+)'")
_SQL_IN = re.compile(r"\baction\s+IN\s*\(([^)]*)\)", re.IGNORECASE)


def sql_actions(root: Path, package: str = "queue_server") -> dict[str, list[Site]]:
    """Action codes named in SQL, in the Python sources and the migrations (``*.sql``)."""
    out: dict[str, list[Site]] = {}
    for path in sorted((root / package).rglob("*")):
        if path.suffix not in (".py", ".sql"):
            continue
        text = path.read_text(encoding="utf-8")
        label = path.relative_to(root).as_posix()
        for m in _SQL_ONE.finditer(text):
            out.setdefault(m.group(1), []).append(f"{label}:{text.count(chr(10), 0, m.start()) + 1}")
        for m in _SQL_IN.finditer(text):
            for code in re.findall(r"'([A-Za-z0-9_]+)'", m.group(1)):
                out.setdefault(code, []).append(f"{label}:{text.count(chr(10), 0, m.start()) + 1}")
    return out


def journal_actions_in(path: str) -> set[str]:
    """The distinct actions in the journal of the database at ``path`` (none if it has no journal)."""
    if path == ":memory:" or not Path(path).exists():
        return set()
    try:
        conn = sqlite3.connect(path, timeout=10)
        try:
            return {r[0] for r in conn.execute("SELECT DISTINCT action FROM journal")}
        finally:
            conn.close()
    except sqlite3.Error:
        return set()  # not a hall database (no journal table yet)


class JournalActions:
    """Records the databases opened while installed, and the actions their journals hold."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.seen: dict[str, set[str]] = {}  # action -> the databases it was in

    def install(self, setattr_: Callable[[object, str, object], None]) -> None:
        """Wrap ``Database.__init__`` and ``close`` (through ``monkeypatch.setattr``)."""
        from queue_server.db import Database

        init, close, recorder = Database.__init__, Database.close, self

        def recording_init(db, path, *args, **kwargs):
            recorder.paths.append(str(path))
            init(db, path, *args, **kwargs)

        def reading_close(db, *args, **kwargs):
            recorder.read(db.path)  # before it goes: a test may delete its folder right after
            return close(db, *args, **kwargs)

        setattr_(Database, "__init__", recording_init)
        setattr_(Database, "close", reading_close)

    def read(self, path: str) -> None:
        for action in journal_actions_in(path):
            self.seen.setdefault(action, set()).add(path)

    def unregistered(self) -> dict[str, set[str]]:
        from queue_server.domain.actions import ACTIONS

        for path in dict.fromkeys(self.paths):
            self.read(path)
        return {a: where for a, where in self.seen.items() if a not in ACTIONS}
