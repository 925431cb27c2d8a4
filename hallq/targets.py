"""Service-level targets of the dispatch policy: how soon each class of ticket should be called.

A business has three targets, in minutes of opening time (docs/dispatch.md):

* ``green``: a green-channel ticket (绿色通道) is called within this long of
  taking its number;
* ``appointment``: a checked-in appointment within this long of the later of
  its slot's start and its check-in;
* ``ordinary``: any other ticket is *overdue* after this long, and is then
  called before newer tickets at every window serving its business.

The first two are promises the hall makes; the third is the starvation guard
(it was ``age_limit_minutes`` before the promises existed, and that key is
still read as the ordinary target).

:func:`problems` is the one check of a set of targets, used by the config
loader (``hallq check-config``) and by the manager console, so both refuse
the same things with the same words.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from hallq.i18n import text

CLASSES = ("green", "appointment", "ordinary")
PROMISES = ("green", "appointment")
LIMITS = (1, 480)
DEFAULT = {"green": 10, "appointment": 10, "ordinary": 40}
POLICIES = ("promises", "age_limit")
# a promise is urgent once this share of its target has passed: the rest is the margin for a window to come
# free (0.3 kept the appointments' p90 within target on the heavier simulated Mondays, 0.5 did not;
# ordinary waits were the same, docs/dispatch.md)
URGENT_SHARE = 0.3


@dataclass(frozen=True)
class Targets:
    green: int = DEFAULT["green"]
    appointment: int = DEFAULT["appointment"]
    ordinary: int = DEFAULT["ordinary"]

    def of(self, klass: int) -> int:
        """The target of class ``klass`` (0 green, 1 appointment, 2 ordinary)."""
        return (self.green, self.appointment, self.ordinary)[klass]

    def as_dict(self) -> dict[str, int]:
        return {"green": self.green, "appointment": self.appointment, "ordinary": self.ordinary}


def soonest_keepable(service_minutes: float, windows: int) -> int:
    """The tightest promise any allocation can keep for a business, in whole minutes.

    With every one of the hall's ``windows`` serving the business, a window
    comes free every ``service_minutes / windows`` minutes on average; a
    promise shorter than two such intervals is kept only by luck.
    """
    return max(1, math.ceil(2 * service_minutes / max(windows, 1)))


@dataclass(frozen=True)
class Problem:
    """A target that cannot stand: its class and the catalogue message saying why, with its fields.

    The messages are ``common.targets.<class>.<what>`` (hallq/locale/<lang>/common.po): the
    Chinese names the class (the console shows the sentence alone, without the field's key),
    the English does not (its readers see the key: ``targets.green``).
    """

    klass: str
    key: str
    fields: dict[str, Any]

    def says(self, lang: str) -> str:
        return text(self.key, lang, **self.fields)

    @property
    def reason(self) -> str:
        """The English, as the config file's checks and the CSV import say it."""
        return self.says("en")


def problems(targets: dict[str, int], service_minutes: float, windows: int) -> list[Problem]:
    """What is wrong with a business's ``targets``, one :class:`Problem` each.

    ``targets`` has every class; values must be integers already (the schema
    checks types). Empty when the targets can be kept.
    """
    out = []
    lo, hi = LIMITS
    for k in CLASSES:
        v = targets[k]
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            out.append(Problem(k, f"common.targets.{k}.range", {"lo": lo, "hi": hi}))
    if out:
        return out
    floor = soonest_keepable(service_minutes, windows)
    for k in PROMISES:
        v = targets[k]
        if v > targets["ordinary"]:
            out.append(Problem(k, f"common.targets.{k}.looser", {"value": v, "ordinary": targets["ordinary"]}))
        elif v < floor:
            out.append(Problem(k, f"common.targets.{k}.unkeepable",
                               {"value": v, "windows": windows, "service": service_minutes, "floor": floor}))
    return out


# -- reading them from a hall file (hallq.hallconfig) ----------------------------------------------------

def from_section(section: dict[str, Any], base: Targets, label: str, key: str, problems: list) -> Targets:
    """A file section's ``targets`` over ``base``; ``age_limit_minutes`` is the older name of the ordinary one."""
    given = dict(section.get("targets", {}))
    if "age_limit_minutes" in section:
        if "ordinary" in given:
            problems.append((label, f"{key}.age_limit_minutes",
                             "give the ordinary target once: targets.ordinary (age_limit_minutes is its older name)"))
        given.setdefault("ordinary", section["age_limit_minutes"])
    return Targets(**{**base.as_dict(), **given})


def settle(targets: Targets, service_minutes: float, windows: int, business: dict[str, Any],
           queue: dict[str, Any]) -> tuple[Targets, list[tuple[str, str]]]:
    """A business's targets as the hall runs them, and what is wrong with them as ``(class, reason)``.

    A promise the file sets nowhere (neither the business nor ``[queue]``) follows
    the hall: the default, raised to what its windows can keep and capped by the
    ordinary target, so a file written before the promises loads as it did. One
    it sets is checked, and the reason says which key to change.
    """
    floor = soonest_keepable(service_minutes, windows)
    adapted = {k: min(max(DEFAULT[k], floor), targets.ordinary)
               for k in PROMISES if not _gives(k, business) and not _gives(k, queue)}
    if adapted:
        targets = dataclasses.replace(targets, **adapted)
    wrong = [(p.klass, p.reason + _inherited(p.klass, targets, business, queue))
             for p in problems(targets.as_dict(), service_minutes, windows)]
    return targets, wrong


def _gives(klass: str, section: dict[str, Any]) -> bool:
    """Whether a section of the file sets the target of ``klass`` (``age_limit_minutes``: the ordinary one)."""
    return klass in section.get("targets", {}) or (klass == "ordinary" and "age_limit_minutes" in section)


def _inherited(klass: str, targets: Targets, section: dict[str, Any], queue: dict[str, Any]) -> str:
    """Where a business's target comes from when the business does not give it: the file key to edit."""
    if _gives(klass, section):
        return ""
    value = getattr(targets, klass)
    if _gives(klass, queue):
        return f" ({klass} = {value} comes from [queue] targets; give this business its own targets.{klass})"
    return (f" ({klass} = {value} is the built-in default; set [queue] targets.{klass} or this business's "
            f"targets.{klass})")
