"""The audit journal in the manager's words: action codes (``no_show``) as 过号 / 過號 / No-show.

The journal keeps codes (stable, machine-readable, what the API and exports
carry); the journal page shows their names from the one registry of actions
(queue_server/domain/actions.py), with the code beside it for whoever searches
the logs, and each entry's details as words.
"""

from __future__ import annotations

from typing import Any

from hallq import i18n
from queue_server.domain import actions

_YES_NO = {True: "web.journal.yes", False: "web.journal.no"}


def action_name(code: str, lang: str) -> str:
    """The action's name in ``lang``; a code not registered is shown as it is."""
    return actions.name(code, lang)


def details(data: dict[str, Any], lang: str) -> str:
    """``k=v`` pairs a person can read: empty values left out, booleans as 是/否, lists joined."""
    out = []
    for k, v in data.items():
        if v is None or v == "" or v == [] or v == {}:
            continue
        if isinstance(v, bool):
            v = i18n.text(_YES_NO[v], lang)
        elif isinstance(v, list):
            v = "、".join(str(x) for x in v)
        elif isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        out.append(f"{k}={v}")
    return ", ".join(out)
