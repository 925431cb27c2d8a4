"""What a request to the API may carry: limits and checks that come before any schema.

A request's text reaches the schemas, the domain, SQLite and the JSON
encoder. Some of what JSON and HTTP allow breaks one of those, and used to
answer 500 (issue 11): a lone surrogate (``"\\ud800"`` is valid JSON but no
Unicode text: it can be neither stored nor sent back), an integer beyond
SQLite's 64 bits, JSON nested a thousand deep (a RecursionError), a 5,000-digit
number (Python refuses to convert it). So, before a schema sees a value:

* a body is UTF-8 JSON (RFC 8259) without ``NaN``/``Infinity`` (Python accepts
  them, JSON does not), no object names a field twice (the last one would
  silently win), nested at most :data:`MAX_DEPTH` deep;
* every string and every object key, anywhere in the body and in the query,
  path and headers the API reads, is Unicode text without NUL;
* every integer fits a signed 64-bit integer, every number is finite.

Pure functions without Flask, so each rule is tested directly;
``queue_server.api`` turns what they find into the one error shape (400).

>>> value_problems(load_json(b'{"level": 99999999999999999999, "\\\\ud800": 1}'))
[('level', 'must be an integer from -9223372036854775808 to 9223372036854775807'), ('\\\\ud800', 'is not valid Unicode text (a lone surrogate)')]
"""  # noqa: E501 (a doctest's expected output is one line)

from __future__ import annotations

import json
import math
import re
from typing import Any

from queue_server.domain.errors import messages

MAX_DEPTH = 32  # our bodies nest three or four deep; a form's values a few more
INT_MIN, INT_MAX = -2**63, 2**63 - 1  # what SQLite stores as an integer
MAX_PROBLEMS = 50  # listed per request: enough to fix a form, not a 64 KB echo
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,100}")  # visible ASCII and spaces, as the document says

_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads pairs good halves, so any left is alone

Problem = tuple[str, str]


class Malformed(ValueError):
    """The body is not JSON the API takes: the key of the reason in the catalogue ``errors.po``, its fields."""

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key, self.params = key, params
        self.messages = messages(key, **params)
        super().__init__(self.messages.get("en") or self.messages["zh-Hans"])


class _Object(dict):
    """A decoded JSON object that remembers the names it saw twice."""

    duplicates: tuple[str, ...] = ()


class _OutOfRange:
    """An integer literal too long to be a 64-bit integer (not converted: Python refuses 4,300 digits)."""

    def __repr__(self) -> str:
        return "<integer out of range>"


OUT_OF_RANGE = _OutOfRange()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        obj.duplicates = tuple(dict.fromkeys(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def _int(literal: str) -> int | _OutOfRange:
    # 20 characters hold every signed 64-bit integer ("-9223372036854775808")
    return int(literal) if len(literal) <= 20 else OUT_OF_RANGE


def _constant(name: str) -> Any:
    raise Malformed("error.json.constant", name=name)


def load_json(raw: bytes) -> Any:
    """Decode a request body, or raise :class:`Malformed` saying why not.

    >>> load_json(b'{"business": "alpha"}')
    {'business': 'alpha'}
    """
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is tolerated, as json.loads always did
    except UnicodeDecodeError as e:
        raise Malformed("error.json.not_utf8", position=e.start) from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_int=_int, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise Malformed("error.json.invalid", reason=e) from None
    except RecursionError:
        raise too_deep() from None
    if depth(value) > MAX_DEPTH:
        raise too_deep()
    return value


def too_deep() -> Malformed:
    return Malformed("error.json.too_deep", depth=MAX_DEPTH)


def depth(value: Any) -> int:
    """How deep objects and arrays nest: ``1`` for ``{}`` or ``[]``, ``0`` for a scalar (no recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        if d <= MAX_DEPTH:  # deeper is refused anyway: no need to walk a 30,000-deep body
            stack.extend((item, d + 1) for item in v)
    return deepest


def text_problem(text: str) -> str | None:
    """What makes ``text`` unfit to store and send back, or None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    if not text.isascii() and _SURROGATE.search(text):
        return "is not valid Unicode text (a lone surrogate)"
    return None


def printable(text: str) -> str:
    """``text`` safe to put in an answer: a lone surrogate shown as ``\\ud800``, a NUL as ``\\x00``."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def join(path: str, key: str | int) -> str:
    """A field's path as the schemas write it: ``applicant.name``, ``serves[2]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = printable(key)
    return f"{path}.{key}" if path else key


def value_problems(value: Any) -> list[Problem]:
    """Every string, key and number of a decoded body that no schema should have to see, with its path.

    >>> value_problems({"a": [1.5, 2**64], "b": "ok"})
    [('a[1]', 'must be an integer from -9223372036854775808 to 9223372036854775807')]
    """
    problems: list[Problem] = []
    stack: list[tuple[Any, str, str | None]] = [(value, "", None)]  # value, its path, what is wrong with its name
    while stack and len(problems) < MAX_PROBLEMS:
        v, path, name_problem = stack.pop()
        if name_problem:
            problems.append((path, name_problem))
        if isinstance(v, str):
            problem = text_problem(v)
            if problem:
                problems.append((path or "(body)", problem))
        elif v is OUT_OF_RANGE or (isinstance(v, int) and not isinstance(v, bool) and not INT_MIN <= v <= INT_MAX):
            problems.append((path or "(body)", f"must be an integer from {INT_MIN} to {INT_MAX}"))
        elif isinstance(v, float) and not math.isfinite(v):  # 1e999 decodes to infinity
            problems.append((path or "(body)", "must be a finite number"))
        elif isinstance(v, dict):
            problems.extend((join(path, k), "appears more than once") for k in getattr(v, "duplicates", ()))
            # reversed, so that problems come in the body's order
            stack.extend(reversed([(item, join(path, k), text_problem(k)) for k, item in v.items()]))
        elif isinstance(v, list):
            stack.extend(reversed([(item, join(path, i), None) for i, item in enumerate(v)]))
    return problems[:MAX_PROBLEMS]


def parse_int(raw: str) -> int | None:
    """A decimal integer from a query string or header, or None: ASCII digits only (``int()`` also takes
    ``" 1_0 "`` and Arabic-Indic digits), at most 19 of them.

    >>> parse_int("20"), parse_int("1_0"), parse_int("١٢"), parse_int("9" * 5000)
    (20, None, None, None)
    """
    return int(raw) if _DECIMAL.fullmatch(raw) else None


_DECIMAL = re.compile(r"-?[0-9]{1,19}")
