"""The linter and the type checker are part of the one test command (``./run.sh test``).

``ruff check`` lints the whole repository and ``mypy`` checks the domain and the MQTT contract,
both configured in pyproject.toml. They run here, as the tools of this virtual environment, so CI
and a developer's ``pytest`` run them the same way, and a finding fails with the tool's own output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{tool} is not installed in {BIN}: run ./run.sh setup (it is in the test extra)")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_ruff_finds_nothing():
    r = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert r.returncode == 0, f"ruff check found problems:\n{r.stdout}{r.stderr}"


def test_mypy_finds_nothing_in_the_domain_and_the_contract():
    r = run("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert r.returncode == 0, f"mypy found problems:\n{r.stdout}{r.stderr}"
