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

CLASSES = ("green", "appointment", "ordinary")
PROMISES = ("green", "appointment")
LIMITS = (1, 480)
DEFAULT = {"green": 10, "appointment": 10, "ordinary": 40}
POLICIES = ("promises", "age_limit")
# a promise is urgent once this share of its target has passed: the rest is the margin for a window to come
# free (0.3 kept the appointments' p90 within target on the heavier simulated Mondays, 0.5 did not;
# ordinary waits were the same, docs/dispatch.md)
URGENT_SHARE = 0.3
# each class in the three languages, so that a message says which target is wrong (the console shows
# the Chinese sentence alone, without the field's key)
NAMES = {"green": ("绿色通道", "綠色通道", "green channel"), "appointment": ("预约", "預約", "appointment"),
         "ordinary": ("普通号", "普通號", "ordinary")}


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


def problems(targets: dict[str, int], service_minutes: float, windows: int) -> list[tuple[str, str, str, str]]:
    """What is wrong with a business's ``targets``: ``(class, zh-Hans, zh-Hant, en)`` for each problem.

    ``targets`` has every class; values must be integers already (the schema
    checks types). Empty when the targets can be kept.
    """
    out = []
    lo, hi = LIMITS
    for k in CLASSES:
        v = targets[k]
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            zh, hant, _en = NAMES[k]
            out.append((k, f"{zh}目标应为 {lo} 到 {hi} 分钟的整数。", f"{hant}目標應為 {lo} 到 {hi} 分鐘的整數。",
                        f"must be a whole number of minutes from {lo} to {hi}"))
    if out:
        return out
    floor = soonest_keepable(service_minutes, windows)
    for k in PROMISES:
        v, (zh, hant, _en) = targets[k], NAMES[k]
        if v > targets["ordinary"]:
            out.append((k, f"{zh}承诺（{v} 分钟）不能长于普通号的目标（{targets['ordinary']} 分钟）。",
                        f"{hant}承諾（{v} 分鐘）不能長於普通號的目標（{targets['ordinary']} 分鐘）。",
                        f"{v} min is looser than the ordinary target ({targets['ordinary']} min): "
                        "a promise must be at least as tight"))
        elif v < floor:
            out.append((k, f"{zh} {v} 分钟的承诺任何窗口安排都做不到：即使全厅 {windows} 个窗口都办此业务，"
                           f"也至少需要 {floor} 分钟。",
                        f"{hant} {v} 分鐘的承諾任何窗口安排都做不到：即使全廳 {windows} 個窗口都辦此業務，"
                        f"也至少需要 {floor} 分鐘。",
                        f"{v} min cannot be kept by any allocation: even with all {windows} windows on this "
                        f"business ({service_minutes:g} min a service) it needs at least {floor} min"))
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
    wrong = [(klass, en + _inherited(klass, targets, business, queue))
             for klass, _zh, _hant, en in problems(targets.as_dict(), service_minutes, windows)]
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
