"""A small schema language: one definition validates input and documents it.

Every HTTP body and every MQTT payload in hallq is described once with these
classes. The same object

* validates a decoded JSON value and reports *every* problem with its path
  (``validate`` returns a list, empty when the value is fine), and
* renders itself as JSON Schema for the OpenAPI document and the MQTT docs.

It is deliberately tiny (no ``$ref``, no ``oneOf``): the payloads of a queue
system are flat, and a schema that a reader can hold in their head is worth
more than generality. It imports nothing outside the standard library so that
boards and kiosks can validate what they receive without pulling in a server.

Example::

    >>> Ticket = Obj({"business": Str(max_len=32), "count": Int(min=0)},
    ...              required=["business"])
    >>> Ticket.validate({"count": -1})
    [('business', 'is required'), ('count', 'must be at least 0')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Problem = tuple[str, str]  # (path, what is wrong)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Schema:
    """Base class: subclasses implement ``_check`` and ``json_schema``."""

    description: str | None = None
    nullable: bool = False

    def validate(self, value: Any, path: str = "") -> list[Problem]:
        problems: list[Problem] = []
        if value is None:
            if not self.nullable:
                problems.append((path or "(body)", "must not be null"))
            return problems
        self._check(value, path, problems)
        return problems

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:  # pragma: no cover
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _decorate(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            schema["description"] = self.description
        if self.nullable:
            t = schema.get("type")
            if isinstance(t, str):
                schema["type"] = [t, "null"]
            elif "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        return schema


@dataclass
class Str(Schema):
    min_len: int = 0
    max_len: int | None = 200
    pattern: str | None = None
    enum: list[str] | None = None
    format: str | None = None
    description: str | None = None
    nullable: bool = False
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.pattern:
            self._regex = re.compile(self.pattern)

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, str):
            problems.append((path, "must be a string"))
            return
        if self.enum is not None and value not in self.enum:
            problems.append((path, f"must be one of: {', '.join(self.enum)}"))
            return
        if len(value) < self.min_len:
            problems.append((path, "must not be empty" if self.min_len == 1 else f"must be at least {self.min_len} characters"))
        if self.max_len is not None and len(value) > self.max_len:
            problems.append((path, f"must be at most {self.max_len} characters"))
        if self._regex is not None and not self._regex.fullmatch(value):
            problems.append((path, f"has the wrong format (expected {self.pattern})"))

    def json_schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "string"}
        if self.enum is not None:
            s["enum"] = list(self.enum)
        if self.min_len:
            s["minLength"] = self.min_len
        if self.max_len is not None:
            s["maxLength"] = self.max_len
        if self.pattern:
            s["pattern"] = f"^(?:{self.pattern})$"
        if self.format:
            s["format"] = self.format
        return self._decorate(s)


class _Ranged(Schema):
    """A number within ``min`` and ``max`` (either may be None): what :class:`Int` and :class:`Num` share."""

    min: float | None
    max: float | None

    def _check_range(self, value: float, path: str, problems: list[Problem]) -> None:
        if self.min is not None and value < self.min:
            problems.append((path, f"must be at least {self.min}"))
        if self.max is not None and value > self.max:
            problems.append((path, f"must be at most {self.max}"))

    def _ranged(self, kind: str) -> dict[str, Any]:
        s: dict[str, Any] = {"type": kind}
        if self.min is not None:
            s["minimum"] = self.min
        if self.max is not None:
            s["maximum"] = self.max
        return self._decorate(s)


@dataclass
class Int(_Ranged):
    min: int | None = None
    max: int | None = None
    description: str | None = None
    nullable: bool = False

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append((path, "must be an integer"))
            return
        self._check_range(value, path, problems)

    def json_schema(self) -> dict[str, Any]:
        return self._ranged("integer")


@dataclass
class Num(_Ranged):
    min: float | None = None
    max: float | None = None
    description: str | None = None
    nullable: bool = False

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append((path, "must be a number"))
            return
        if value != value or value in (float("inf"), float("-inf")):
            problems.append((path, "must be a finite number"))
            return
        self._check_range(value, path, problems)

    def json_schema(self) -> dict[str, Any]:
        return self._ranged("number")


@dataclass
class Bool(Schema):
    description: str | None = None
    nullable: bool = False

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, bool):
            problems.append((path, "must be true or false"))

    def json_schema(self) -> dict[str, Any]:
        return self._decorate({"type": "boolean"})


@dataclass
class Arr(Schema):
    items: Schema
    max_items: int | None = 500
    min_items: int = 0
    description: str | None = None
    nullable: bool = False

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, list):
            problems.append((path, "must be a list"))
            return
        if len(value) < self.min_items:
            problems.append((path, f"must have at least {self.min_items} entries"))
        if self.max_items is not None and len(value) > self.max_items:
            problems.append((path, f"must have at most {self.max_items} entries"))
            return
        for i, item in enumerate(value):
            problems.extend(self.items.validate(item, _join(path, i)))

    def json_schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "array", "items": self.items.json_schema()}
        if self.max_items is not None:
            s["maxItems"] = self.max_items
        if self.min_items:
            s["minItems"] = self.min_items
        return self._decorate(s)


@dataclass
class Map(Schema):
    """An object with free keys (matching ``key_pattern``) and uniform values."""

    values: Schema
    key_pattern: str = r"[A-Za-z0-9_-]{1,64}"
    max_keys: int = 100
    description: str | None = None
    nullable: bool = False

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, dict):
            problems.append((path, "must be an object"))
            return
        if len(value) > self.max_keys:
            problems.append((path, f"must have at most {self.max_keys} keys"))
            return
        key_re = re.compile(self.key_pattern)
        for k, v in value.items():
            if not isinstance(k, str) or not key_re.fullmatch(k):
                problems.append((_join(path, str(k)), "is not an allowed key"))
                continue
            problems.extend(self.values.validate(v, _join(path, k)))

    def json_schema(self) -> dict[str, Any]:
        return self._decorate({
            "type": "object",
            "propertyNames": {"pattern": f"^(?:{self.key_pattern})$"},
            "additionalProperties": self.values.json_schema(),
        })


@dataclass
class Obj(Schema):
    fields: dict[str, Schema]
    required: list[str] = field(default_factory=list)
    extra: bool = False  # accept (and ignore) unknown keys
    description: str | None = None
    nullable: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.required) - set(self.fields)
        if unknown:
            raise ValueError(f"required fields not defined: {sorted(unknown)}")

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, dict):
            problems.append((path or "(body)", "must be a JSON object"))
            return
        for name in self.required:
            if name not in value:
                problems.append((_join(path, name), "is required"))
        for name, v in value.items():
            schema = self.fields.get(name)
            if schema is None:
                if not self.extra:
                    problems.append((_join(path, str(name)), "is not a known field"))
                continue
            problems.extend(schema.validate(v, _join(path, name)))

    def json_schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "type": "object",
            "properties": {k: v.json_schema() for k, v in self.fields.items()},
            "additionalProperties": self.extra,
        }
        if self.required:
            s["required"] = list(self.required)
        return self._decorate(s)


@dataclass
class Any_(Schema):
    """Anything JSON (used sparingly, for free-form ``data`` in the journal)."""

    description: str | None = None
    nullable: bool = True

    def _check(self, value: Any, path: str, problems: list[Problem]) -> None:
        return

    def json_schema(self) -> dict[str, Any]:
        return self._decorate({})


def format_problems(problems: list[Problem]) -> str:
    """One line listing every problem: ``business: is required; count: ...``."""
    return "; ".join(f"{p}: {msg}" for p, msg in problems)


# Reusable field shapes -----------------------------------------------------

ISO_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([+-][0-9]{2}:[0-9]{2}|Z)"
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
CODE = r"[a-z][a-z0-9_-]{0,31}"


def Time(description: str | None = None, nullable: bool = False) -> Str:
    return Str(pattern=ISO_TIME, max_len=40, format="date-time", description=description, nullable=nullable)


def Texts(description: str | None = None) -> Map:
    """A text in several languages: ``{"zh-Hans": ..., "zh-Hant": ..., "en": ...}``."""
    return Map(Str(max_len=2000), key_pattern=r"zh-Hans|zh-Hant|en", max_keys=3, description=description)
