"""The server's layers, read from the source (docs/architecture.md, "The layers").

* Routes (``queue_server/api``) and pages (``queue_server/web``) hold no SQL and open no
  transaction: every change goes through a domain service method (one transaction), every read
  through ``queue_server/readmodel``.
* The API and the pages do not import each other: what both need lives in a neutral module.
* The domain (``queue_server/domain``) and the read model know neither Flask nor MQTT, and
  the read model only reads.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "queue_server"
SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s")  # as SQL is written here: upper case
WRITE_SQL = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\s")
DB_CALLS = {"execute", "executemany", "executescript", "connection", "transaction"}
DB_HANDLE_CALLS = {"read", "write"}  # db.read(), st.db.write(): a transaction opened by hand
LAYERS = {"api": "web", "web": "api"}


def _modules(layer: str) -> list[Path]:
    return sorted((ROOT / layer).glob("*.py"))


def _imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """Every module a module of ``package`` imports (absolute names, relative ones resolved), with its line."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:  # relative: from . import x, from ..api import y
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{name}" if name else base
            out.append((node.lineno, name))
            out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return out


def _receiver_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def layer_problems(path: Path, layer: str) -> list[str]:
    """What in ``path`` (a module of ``api`` or ``web``) breaks the layering; one line per problem."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = f"{layer}/{path.name}"
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            problems.append(f"{where}:{node.lineno}: SQL in a {layer} module: {node.value[:40]!r}")
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant) \
                and isinstance(node.values[0].value, str) and SQL.match(node.values[0].value):
            problems.append(f"{where}:{node.lineno}: SQL in a {layer} module (f-string)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in DB_CALLS:
                problems.append(f"{where}:{node.lineno}: .{name}() in a {layer} module")
            elif name in DB_HANDLE_CALLS and _receiver_name(node.func.value) == "db":
                problems.append(f"{where}:{node.lineno}: db.{name}() in a {layer} module")
    other = f"queue_server.{LAYERS[layer]}"
    for line, name in _imported(tree, f"queue_server.{layer}"):
        if name == other or name.startswith(other + "."):
            problems.append(f"{where}:{line}: the {layer} layer imports {name}")
    return problems


def framework_problems(path: Path, package: str = "domain") -> list[str]:
    """Imports of Flask (or werkzeug) or paho in ``path``, a module of ``queue_server.<package>``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [f"{package}/{path.name}:{line}: the {package} imports {name}"
            for line, name in _imported(tree, f"queue_server.{package}")
            if name.split(".")[0] in ("flask", "werkzeug", "paho")]


def write_problems(path: Path) -> list[str]:
    """Writes in ``path``, a module of the read model: SQL that changes rows, a write or a transaction opened."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and WRITE_SQL.match(node.value):
            problems.append(f"readmodel/{path.name}:{node.lineno}: a write: {node.value[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in ("transaction", "executemany", "executescript")
                or node.func.attr == "write" and _receiver_name(node.func.value) == "db"):
            problems.append(f"readmodel/{path.name}:{node.lineno}: .{node.func.attr}() in the read model")
    return problems


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_routes_and_pages_hold_no_sql_and_do_not_import_each_other(layer):
    modules = _modules(layer)
    assert modules, f"no modules found in queue_server/{layer}"
    problems = [p for path in modules for p in layer_problems(path, layer)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", ["domain", "readmodel"])
def test_the_domain_and_the_read_model_know_neither_flask_nor_mqtt(package):
    modules = sorted((ROOT / package).glob("*.py"))
    assert modules
    problems = [p for path in modules for p in framework_problems(path, package)]
    assert not problems, "\n".join(problems)


def test_the_read_model_only_reads():
    modules = sorted((ROOT / "readmodel").glob("*.py"))
    assert modules
    problems = [p for path in modules for p in write_problems(path)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("plant, expected", [
    ('ROWS = "SELECT * FROM tickets"\n', "SQL in a web module"),
    ('def f(day):\n    return f"""\n  WITH x AS (SELECT 1) SELECT {day}"""\n', "SQL in a web module (f-string)"),
    ("def f(st):\n    st.db.connection()\n", ".connection() in a web module"),
    ("def f(conn):\n    conn.execute('PRAGMA x')\n", ".execute() in a web module"),
    ("def f(st, a):\n    with st.service.transaction(a) as tx:\n        pass\n", ".transaction() in a web module"),
    ("def f(st):\n    with st.db.read() as conn:\n        pass\n", "db.read() in a web module"),
    ("from queue_server.api.stats import build\n", "the web layer imports queue_server.api.stats"),
    ("def f():\n    from queue_server.api import request_lang\n", "the web layer imports queue_server.api"),
    ("from queue_server import api\n", "the web layer imports queue_server.api"),
    ("from ..api import hall\n", "the web layer imports queue_server.api"),
])
def test_a_planted_violation_is_found(tmp_path, plant, expected):
    """The checks above find what they look for (a module planted beside the pages)."""
    path = tmp_path / "planted.py"
    path.write_text('"""A planted module."""\n' + plant, encoding="utf-8")
    problems = layer_problems(path, "web")
    assert any(expected in p for p in problems), problems


def test_a_planted_domain_import_is_found(tmp_path):
    path = tmp_path / "planted.py"
    path.write_text("import paho.mqtt.client as mqtt\nfrom flask import request\n"
                    "from queue_server.db import Database\n", encoding="utf-8")
    assert [p.split(": ")[1] for p in framework_problems(path)] == [
        "the domain imports paho.mqtt.client", "the domain imports flask", "the domain imports flask.request"]


@pytest.mark.parametrize("plant", ['X = "UPDATE windows SET state = 1"\n', "def f(st):\n    st.db.write()\n",
                                   "def f(st, a):\n    st.service.transaction(a)\n"])
def test_a_planted_write_in_the_read_model_is_found(tmp_path, plant):
    path = tmp_path / "planted.py"
    path.write_text(plant, encoding="utf-8")
    assert len(write_problems(path)) == 1


def test_plain_words_are_not_sql(tmp_path):
    path = tmp_path / "planted.py"
    path.write_text('"""Update the window. With a cookie."""\nX = "Delete this notice"\nY = "SELECTED"\n',
                    encoding="utf-8")
    assert layer_problems(path, "web") == []
