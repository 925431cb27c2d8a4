"""An install without internet, as docs/deployment.md ("Installing without internet") tells a county to do it.

A wheelhouse is built with requirements/wheelhouse.sh (pip download of every wheel of the test lock, hash-checked,
plus hallq's own wheel; pip's cache makes this quick after ``./run.sh setup``). Then a new venv installs the runtime
lock and hallq's wheel from that folder alone, with the network truly off: pip runs inside ``unshare -n``, a new
network namespace with no interface but a down loopback, where any connection fails. Where that is impossible (no
unshare, not root), the install runs with ``--no-index`` alone, and the test says so in a warning. The installed
``hallq`` then answers ``--version`` and checks the sample hall's config.

A second test does what a source checkout does: ``HALLQ_WHEELHOUSE=DIR ./run.sh setup`` in a fresh clone, the network
off, installing the whole test lock. The machine's pip configuration (local index locations, extra find-links) is
switched off throughout, so a wheel missing from the wheelhouse cannot be found elsewhere. Measured with a warm pip
cache on 2 cores: ~8 s for the wheelhouse, ~14 s for the runtime venv, ~22 s for run.sh's full install (~45 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
PROBE = ("import socket\n"
         "try:\n"
         "    socket.create_connection(('151.101.0.223', 443), timeout=5)\n"
         "except OSError as e:\n"
         "    raise SystemExit(f'offline: {e}')\n"
         "raise SystemExit('ONLINE')\n")


def pip_env() -> dict[str, str]:
    """The environment without the machine's pip configuration (no config file, no PIP_* index or link settings)
    and without a PYTHONPATH, which would put the source tree before what the new venv installed."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("PIP_") and k not in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_CACHE_DIR"))
           and k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=cwd, env=pip_env(), capture_output=True, text=True, timeout=timeout, check=False)
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def offline_prefix() -> list[str]:
    """``unshare -n`` when it works here, proven offline by a connection that fails; else [] (with a warning)."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        warnings.warn("unshare -n is not available (needs the unshare command and root): the offline install is "
                      "checked with pip --no-index alone, not with the network off", stacklevel=2)
        return []
    probe = subprocess.run([unshare, "-n", sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30,
                           check=False)
    if probe.returncode == 0 or "offline" not in probe.stderr:
        warnings.warn(f"unshare -n did not give an offline namespace ({probe.stderr.strip()!r}): the offline install "
                      "is checked with pip --no-index alone", stacklevel=2)
        return []
    return [unshare, "-n"]


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """What ``requirements/wheelhouse.sh DIR`` builds: every wheel of test.lock (hallq.lock's and more), and hallq's."""
    folder = tmp_path_factory.mktemp("offline") / "wheelhouse"
    built = run(["bash", str(ROOT / "requirements" / "wheelhouse.sh"), str(folder)], cwd=ROOT)
    wheels = sorted(p.name for p in folder.glob("*.whl"))
    assert any(w.startswith("hallq-") for w in wheels), f"no hallq wheel in {wheels}\n{built.stderr}"
    assert (folder / "hallq.lock").is_file() and (folder / "test.lock").is_file(), "the wheelhouse carries the locks"
    return folder


@pytest.fixture(scope="module")
def offline() -> list[str]:
    return offline_prefix()


def test_a_wheelhouse_installs_hallq_into_a_new_venv_with_the_network_off(wheelhouse, offline, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    source = ["--no-index", "--find-links", str(wheelhouse)]
    run([*offline, *pip, "install", "-q", *source, "--require-hashes", "-r", str(wheelhouse / "hallq.lock")],
        cwd=tmp_path)
    run([*offline, *pip, "install", "-q", *source, "--no-deps", "hallq"], cwd=tmp_path)

    hallq = str(venv / "bin" / "hallq")
    version = run([*offline, hallq, "--version"], cwd=tmp_path)
    assert version.stdout.strip() == f"hallq {VERSION}", version.stdout
    checked = run([*offline, hallq, "check-config", str(ROOT / "config/city-hall/hall.toml")], cwd=tmp_path)
    assert "site liupanshui" in checked.stdout, checked.stdout
    # the wheel carries the sample halls and the systemd units: a hall from nothing, with no source tree
    made = run([*offline, hallq, "init", "--site", "wheel-town", "--name", "某某镇便民服务中心", "--level", "town",
                "--to", str(tmp_path / "hall")], cwd=tmp_path)
    assert "shown ONCE" in made.stdout, made.stdout + made.stderr
    checked = run([*offline, hallq, "check-config", str(tmp_path / "hall" / "hall.toml")], cwd=tmp_path)
    assert "site wheel-town" in checked.stdout, checked.stdout
    assert (venv / "share" / "hallq" / "deploy" / "systemd" / "hallq-server.service").is_file()
    # the hallq that ran is the installed wheel, not this source tree (every command above ran outside it)
    code = "import launcher, hallq; print(launcher.__file__, hallq.__file__)"
    where = run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path)
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout, where.stdout
    print(f"offline install: {'unshare -n (network off)' if offline else '--no-index only'}")


def test_run_sh_setup_installs_from_the_wheelhouse_with_the_network_off(wheelhouse, offline, tmp_path):
    """``HALLQ_WHEELHOUSE=DIR ./run.sh setup`` in a fresh checkout: the whole locked set (runtime and tests)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    checkout = tmp_path / "hallq"
    run(["git", "clone", "-q", str(ROOT), str(checkout)], cwd=tmp_path)
    env = {"HALLQ_WHEELHOUSE": str(wheelhouse)}
    run([*offline, "env", *(f"{k}={v}" for k, v in env.items()), "bash", str(checkout / "run.sh"), "setup"],
        cwd=tmp_path)
    version = run([*offline, str(checkout / ".venv" / "bin" / "hallq"), "--version"], cwd=tmp_path)
    assert version.stdout.strip() == f"hallq {VERSION}", version.stdout
    # the test tools came from the wheelhouse too
    run([str(checkout / ".venv" / "bin" / "python"), "-c", "import pytest, schemathesis, selenium"], cwd=tmp_path)
