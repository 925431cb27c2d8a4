"""Figures in the docs are generated from committed JSON: this puts them there, and tests check they match.

A doc marks a generated block with ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``;
:data:`BLOCKS` says which committed JSON and which renderer fill it.
tests/test_docs_figures.py fails when a block differs from its rendering, so
a figure in the docs cannot drift from the run it came from.

    .venv/bin/python bench/docs_figures.py          # rewrite every block from its JSON
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _dispatch(data: dict) -> str:
    from bench_dispatch import render

    return render(data)


# name: (doc, committed JSON, renderer)
BLOCKS = {
    "dispatch-figures": (ROOT / "docs" / "dispatch.md", ROOT / "docs" / "dispatch-figures.json", _dispatch),
}


def rendered(name: str) -> str:
    doc, data, render = BLOCKS[name]
    return render(json.loads(data.read_text(encoding="utf-8")))


def block(name: str) -> str:
    """What the doc holds between the markers now."""
    doc = BLOCKS[name][0]
    m = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", doc.read_text(encoding="utf-8"), re.S)
    if m is None:
        raise LookupError(f"{doc}: no <!-- {name}:begin --> … <!-- {name}:end --> block")
    return m.group(1).rstrip("\n")


def write(name: str) -> None:
    doc = BLOCKS[name][0]
    text = doc.read_text(encoding="utf-8")
    new = re.sub(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)",
                 lambda m: m.group(1) + rendered(name) + "\n" + m.group(2), text, flags=re.S)
    doc.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    for name in BLOCKS:
        write(name)
        print(f"{BLOCKS[name][0].relative_to(ROOT)}: {name} written from {BLOCKS[name][1].relative_to(ROOT)}")
