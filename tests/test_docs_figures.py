"""Every generated block of figures in the docs matches the committed JSON it was made from (bench/docs_figures.py)."""

from __future__ import annotations

import sys

import pytest

from hallq.testing import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import docs_figures


@pytest.mark.parametrize("name", list(docs_figures.BLOCKS))
def test_the_docs_show_the_committed_figures(name):
    assert docs_figures.block(name) == docs_figures.rendered(name).rstrip("\n"), (
        f"{name}: the doc and its JSON disagree; run .venv/bin/python bench/docs_figures.py")
