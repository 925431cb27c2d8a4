"""The hash locks (requirements/*.lock) agree with pyproject.toml, so an install from a lock is the project's.

``./run.sh`` installs exactly requirements/test.lock with ``--require-hashes``; requirements/compile.sh makes the locks
from pyproject.toml's ranges. A requirement added, or a range moved, in pyproject.toml without running compile.sh
fails here, naming the package and the fix. Also: every pin is exact and hashed, the runtime lock pins what the test
lock pins, and every requirement in pyproject.toml has an upper bound (a major release cannot slip in unannounced).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
FIX = "run requirements/compile.sh (see requirements/README.md) and commit the locks"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;[^\\]*)?\\?$")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirements(group: str) -> list[Requirement]:
    project = pyproject()["project"]
    if group == "runtime":
        return [Requirement(r) for r in project["dependencies"]]
    if group == "build":
        build = [line.split("#")[0].strip() for line in (REQUIREMENTS / "build.in").read_text().splitlines()]
        return [Requirement(r) for r in pyproject()["build-system"]["requires"] + [b for b in build if b]]
    return [Requirement(r) for r in project["optional-dependencies"][group]]


def read_lock(name: str) -> dict[str, tuple[Version, int]]:
    """{canonical name: (pinned version, number of hashes)} of a lock written by uv / pip-compile."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for n, line in enumerate((REQUIREMENTS / name).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith((" ", "\t")):
            assert current is not None and line.strip().startswith("--hash=sha256:"), \
                f"{name}:{n}: unexpected continuation {line.strip()!r}"
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
            continue
        m = PIN.match(line)
        assert m, f"{name}:{n}: {line!r} is not an exact pin (name==version): {FIX}"
        current = canonicalize_name(m["name"])
        pins[current] = (Version(m["version"]), 0)
    return pins


@pytest.mark.parametrize("lock", ["hallq.lock", "test.lock"])
def test_every_pin_is_exact_and_hashed(lock):
    pins = read_lock(lock)
    assert pins, f"requirements/{lock} pins nothing"
    unhashed = [name for name, (_, hashes) in pins.items() if hashes == 0]
    assert not unhashed, f"requirements/{lock} has pins without a hash: {unhashed}; {FIX}"


@pytest.mark.parametrize(("lock", "groups"), [("hallq.lock", ["runtime", "build"]),
                                              ("test.lock", ["runtime", "test", "build"])])
def test_every_requirement_of_pyproject_is_pinned_within_its_range(lock, groups):
    pins = read_lock(lock)
    problems = []
    for group in groups:
        for req in requirements(group):
            if req.marker is not None and not req.marker.evaluate({"extra": "test"}):
                continue
            pinned = pins.get(canonicalize_name(req.name))
            if pinned is None:
                problems.append(f"{req.name} ({group}) is not in the lock")
            elif not req.specifier.contains(pinned[0], prereleases=True):
                problems.append(f"{req.name} is pinned at {pinned[0]}, outside pyproject's {req.specifier}")
    assert not problems, f"requirements/{lock} disagrees with pyproject.toml: " + "; ".join(problems) + f". {FIX}"


def test_the_runtime_lock_pins_what_the_test_lock_pins():
    runtime, full = read_lock("hallq.lock"), read_lock("test.lock")
    differ = {name: (v, full.get(name, (None,))[0]) for name, (v, _) in runtime.items()
              if full.get(name, (None,))[0] != v}
    assert not differ, f"hallq.lock and test.lock pin differently (hallq, test): {differ}; {FIX}"


def test_the_locks_header_names_the_command_that_makes_them():
    for lock in ("hallq.lock", "test.lock"):
        head = (REQUIREMENTS / lock).read_text(encoding="utf-8").splitlines()[:3]
        assert any("requirements/compile.sh" in line for line in head), f"{lock} was not made by compile.sh"


@pytest.mark.parametrize("group", ["runtime", "test"])
def test_every_requirement_has_an_upper_bound(group):
    unbounded = [str(r) for r in requirements(group)
                 if not any(s.operator in ("<", "<=", "==", "~=", "===") for s in r.specifier)]
    assert not unbounded, (f"pyproject.toml: {unbounded} have no upper bound: add '<next major' (0.x: '<next minor') "
                           "so that a breaking release is not installed unannounced")
