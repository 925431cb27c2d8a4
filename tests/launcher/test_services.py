"""The systemd units in deploy/systemd/ and ``hallq services`` (issue 14, item 1).

Every shipped unit, filled in by ``hallq services install`` for a hall made by ``hallq init``, passes
``systemd-analyze verify`` and stays under an exposure level of ``systemd-analyze security``; no
``Environment=`` line carries a secret; each unit has its hardening; the install is idempotent and
refuses with the cause and the fix; and the server's unit, its ExecStart run with the unit's own
environment, starts a server that answers /api/v1/health — so docs/deployment.md cannot rot.
systemd cannot run here (it is not PID 1), so what systemd itself would do is done by hand: the
credentials are put in a folder the way LoadCredential= would, and %d names it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hallq.client import HallClient, free_port
from hallq.testing import ROOT, MqttCollector
from launcher import services
from launcher.init import init_hall

UNITS = ROOT / "deploy" / "systemd"
SITE = "testhall"
ALL = ["server", "gateway", "board@lobby", "announcer", "kiosk@kiosk-1"]
SECRET_USERS = ("gateway.gateway-1", "board.lobby", "announcer.lobby", "kiosk.kiosk-1")
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # systemd's default PATH


def systemd_analyze() -> str:
    """systemd-analyze, which the tests need: absent, they fail (./run.sh setup installs the systemd package)."""
    found = shutil.which("systemd-analyze")
    if not found:
        pytest.fail("systemd-analyze is not installed, so the shipped units cannot be verified: install the Debian "
                    "package systemd (./run.sh setup does: it is in APT_PACKAGES)")
    return found


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A hall from `hallq init` in <tmp>/etc/hallq/testhall, with kiosk-1.toml and the parts' MQTT secrets."""
    base = tmp_path_factory.mktemp("made")
    folder = base / "etc" / "hallq" / SITE
    init_hall(folder, site=SITE, name="测试便民服务中心")
    shutil.copy2(folder / "kiosk.toml", folder / "kiosk-1.toml")  # a kiosk's file is named after its id
    (folder / "secrets" / "mqtt").mkdir(mode=0o700)
    for user in SECRET_USERS:
        secret = folder / "secrets" / "mqtt" / f"{user}.secret"
        secret.write_text("not-a-real-secret\n", encoding="utf-8")
        secret.chmod(0o600)
    return folder


@pytest.fixture
def hall(made: Path, tmp_path: Path) -> Path:
    """A copy of the made hall's config folder, this test's own (modes kept)."""
    folder = tmp_path / "etc" / "hallq" / SITE
    shutil.copytree(made, folder)
    return folder


def hallq(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *argv], capture_output=True, text=True, timeout=120)


def install(folder: Path, root: Path, parts: list[str] = ALL, *extra: str) -> subprocess.CompletedProcess:
    return hallq("services", "install", "--config", str(folder / "hall.toml"), "--root", str(root),
                 "--parts", ",".join(parts), *extra)


def installed(folder: Path, root: Path, parts: list[str] = ALL) -> dict[str, Path]:
    """The filled units of ``parts`` under root, a template's copied to its instance's name as systemd loads it."""
    r = install(folder, root, parts)
    assert r.returncode == 0, r.stderr
    unit_dir = root / "etc" / "systemd" / "system"
    found = {}
    for name in parts:
        part = services.Part.parse(name)
        path = unit_dir / part.unit
        if part.instance:
            shutil.copy(unit_dir / part.template, path)
        found[name] = path
    return found


def unit_lines(path: Path) -> list[tuple[str, str]]:
    """(key, value) of every setting line of a unit file."""
    return [(k.strip(), v.strip()) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith(("#", ";", "[")) for k, _, v in [line.partition("=")]]


# -- systemd-analyze --------------------------------------------------------------------------------

def test_every_shipped_unit_passes_systemd_analyze_verify(hall, tmp_path):
    analyze = systemd_analyze()
    units = installed(hall, tmp_path / "root", [*ALL])
    # the broker's unit, for a hall whose [mqtt] url names the broker `hallq broker` runs
    text = (hall / "hall.toml").read_text(encoding="utf-8")
    (hall / "hall.toml").write_text(re.sub(r'(?m)^url = ""', 'url = "mqtt://127.0.0.1:11883"', text, count=1),
                                    encoding="utf-8")
    units |= installed(hall, tmp_path / "root", ["broker"])
    assert {p.name for p in UNITS.glob("*.service")} == {services.Part.parse(p).template for p in units}, \
        "every unit in deploy/systemd/ is verified here"
    r = subprocess.run([analyze, "verify", "--man=no", *map(str, units.values())], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stdout + r.stderr


# what `systemd-analyze security` rates each unit (0 safe … 10 exposed): the screens and devices need more
EXPOSURE = {"server": 1.5, "broker": 1.5, "gateway": 1.7, "announcer": 1.8, "board@lobby": 1.8, "kiosk@kiosk-1": 1.8}


def test_no_unit_is_more_exposed_than_its_parts_need(hall, tmp_path):
    analyze = systemd_analyze()
    text = (hall / "hall.toml").read_text(encoding="utf-8")
    units = installed(hall, tmp_path / "root")
    (hall / "hall.toml").write_text(re.sub(r'(?m)^url = ""', 'url = "mqtt://127.0.0.1:11883"', text, count=1),
                                    encoding="utf-8")
    units |= installed(hall, tmp_path / "root", ["broker"])
    for name, path in units.items():
        r = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(path)], capture_output=True,
                           text=True, timeout=60)
        level = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout).group(1))
        assert level <= EXPOSURE[name], f"{path.name}: exposure {level} > {EXPOSURE[name]}:\n{r.stdout}"


# -- what the units say ----------------------------------------------------------------------------

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.I)


def test_no_environment_line_carries_a_secret():
    for path in UNITS.glob("*.service"):
        for key, value in unit_lines(path):
            if key == "Environment":
                for assignment in shlex.split(value):
                    name, _, val = assignment.partition("=")
                    if SECRET_NAME.search(name):
                        assert name.endswith("_FILE") and val.startswith("%d/"), \
                            f"{path.name}: {assignment}: a secret goes through LoadCredential= (%d/…), never Environment="
                    assert not re.search(r"://[^/@\s]+:[^/@\s]+@", val), f"{path.name}: a password in a URL: {val}"
            if key == "EnvironmentFile":
                assert "/secrets/" in value, f"{path.name}: an EnvironmentFile= outside the root-only secrets/"
            if key == "LoadCredential":
                assert value.split(":", 1)[1].startswith("@CONFIG_DIR@/secrets/"), f"{path.name}: {value}"


COMMON = {"User": "hallq", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
          "CapabilityBoundingSet": "", "SystemCallFilter": "@system-service", "SystemCallArchitectures": "native",
          "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
          "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
          "StateDirectory": "hallq/@SITE@", "Restart": "on-failure", "StartLimitBurst": "5", "UMask": "0027"}
# what each part relaxes, and why (docs/deployment.md, "systemd"): a screen, a loudspeaker, serial ports
OWN = {
    "hallq-server.service": {"ProtectHome": "yes", "PrivateDevices": "yes"},
    "hallq-broker.service": {"ProtectHome": "yes", "PrivateDevices": "yes"},
    "hallq-gateway.service": {"ProtectHome": "yes", "DevicePolicy": "closed", "SupplementaryGroups": "dialout"},
    "hallq-announcer.service": {"ProtectHome": "read-only", "DevicePolicy": "closed", "SupplementaryGroups": "audio"},
    "hallq-board@.service": {"ProtectHome": "read-only", "DevicePolicy": "closed",
                             "SupplementaryGroups": "video render input audio"},
    "hallq-kiosk@.service": {"ProtectHome": "read-only", "DevicePolicy": "closed",
                             "SupplementaryGroups": "video render input audio dialout lp"},
}


@pytest.mark.parametrize("unit", sorted(OWN))
def test_each_unit_has_its_hardening(unit):
    lines = unit_lines(UNITS / unit)
    said = {}
    for key, value in lines:
        said.setdefault(key, value)  # the first one (SystemCallFilter= has a second, ~@privileged)
    for key, value in {**COMMON, **OWN[unit]}.items():
        assert said.get(key) == value, f"{unit}: {key}={said.get(key)!r}, expected {value!r}"
    assert ("SystemCallFilter", "~@privileged") in lines
    assert "RestrictAddressFamilies" in said and "AF_PACKET" not in said["RestrictAddressFamilies"]
    assert "StartLimitIntervalSec" in said and "RestartSec" in said
    assert "DynamicUser" not in said and "StandardOutput" not in said, "journald takes the logs"


# -- hallq services install ------------------------------------------------------------------------

def test_install_writes_filled_units_says_what_to_run_and_is_idempotent(hall, tmp_path):
    root = tmp_path / "root"
    first = install(hall, root)
    assert first.returncode == 0, first.stderr
    unit_dir = root / "etc" / "systemd" / "system"
    written = sorted(p.name for p in unit_dir.iterdir())
    assert written == sorted({services.Part.parse(p).template for p in ALL})
    assert first.stdout.count("wrote ") == len(written) and "unchanged" not in first.stdout
    for path in unit_dir.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"@[A-Z_]+@", text), f"{path.name}: a placeholder left"
        assert f"ExecStart={Path(sys.executable).parent / 'hallq'} " in text
        assert f"/var/lib/hallq/{SITE}" in text
        assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert f"--config {hall / 'hall.toml'}" in (unit_dir / "hallq-server.service").read_text(encoding="utf-8")
    assert f"LoadCredential=device-key:{hall}/secrets/%i.key" in \
        (unit_dir / "hallq-kiosk@.service").read_text(encoding="utf-8")
    for path in [hall / "secrets" / "mqtt" / f"{u}.secret" for u in SECRET_USERS] + \
            [hall / "secrets" / "kiosk-1.key", hall / "secrets" / "gateway-1.key"]:
        assert f"credential {path}: ok" in first.stdout
    units = " ".join(services.Part.parse(p).unit for p in ALL)
    assert "not enabled (--root)" in first.stdout
    assert "  systemctl daemon-reload\n" in first.stdout and f"  systemctl enable {units}\n" in first.stdout
    assert "not-a-real-secret" not in first.stdout + first.stderr
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in unit_dir.iterdir()}

    again = install(hall, root)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("unchanged ") == len(written) and "wrote " not in again.stdout
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in unit_dir.iterdir()} == before

    # a unit edited by hand is put back as it should be
    server = unit_dir / "hallq-server.service"
    server.write_text("edited\n", encoding="utf-8")
    third = install(hall, root)
    assert f"wrote     {server}" in third.stdout and server.read_bytes() == before[server.name][0]


def test_the_server_machine_and_the_kiosk_machine_get_their_own_units_by_default(hall, tmp_path):
    r = hallq("services", "install", "--config", str(hall / "hall.toml"), "--root", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    assert "systemctl enable hallq-server.service hallq-gateway.service\n" in r.stdout
    # a kiosk machine: only the kiosk's own file and its secrets
    kiosk = tmp_path / "kiosk-machine" / "etc" / "hallq" / SITE
    (kiosk / "secrets" / "mqtt").mkdir(parents=True)
    shutil.copy2(hall / "kiosk-1.toml", kiosk)
    shutil.copy2(hall / "secrets" / "kiosk-1.key", kiosk / "secrets")
    shutil.copy2(hall / "secrets" / "mqtt" / "kiosk.kiosk-1.secret", kiosk / "secrets" / "mqtt")
    listed = hallq("services", "list", "--config", str(kiosk))
    assert listed.returncode == 0 and "hallq-kiosk@kiosk-1.service" in listed.stdout, listed.stdout + listed.stderr
    assert "hallq-server" not in listed.stdout
    r = hallq("services", "install", "--config", str(kiosk), "--root", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    assert "systemctl enable hallq-kiosk@kiosk-1.service\n" in r.stdout
    assert f"--config {kiosk}/%i.toml" in (tmp_path / "b/etc/systemd/system/hallq-kiosk@.service").read_text()


def test_list_names_every_unit_of_the_hall_and_the_state_of_its_credentials(hall):
    (hall / "secrets" / "mqtt" / "board.lobby.secret").unlink()
    r = hallq("services", "list", "--config", str(hall / "hall.toml"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.index("this machine's units") < out.index("hallq-server.service") < out.index("hallq-gateway.service") \
        < out.index("units of the hall's other machines") < out.index("hallq-board@lobby.service")
    for unit in ("hallq-board@zone-b.service", "hallq-announcer.service", "hallq-kiosk@kiosk-1.service"):
        assert unit in out
    assert f"credential {hall}/secrets/mqtt/board.lobby.secret: does not exist" in out
    assert f"credential {hall}/secrets/kiosk-1.key: ok" in out


# -- refusals: the cause and the fix ----------------------------------------------------------------

def refused(r: subprocess.CompletedProcess, *said: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "hallq services: cannot install the units:" in r.stderr
    for s in said:
        assert s in r.stderr, r.stderr


def test_a_missing_or_open_credential_is_refused_naming_the_file_and_the_fix(hall, tmp_path):
    root = tmp_path / "root"
    (hall / "secrets" / "mqtt" / "kiosk.kiosk-1.secret").unlink()
    (hall / "secrets" / "gateway-1.key").chmod(0o644)
    r = install(hall, root)
    refused(r, f"{hall}/secrets/mqtt/kiosk.kiosk-1.secret does not exist",
            f"copy /var/lib/hallq/{SITE}/credentials/mqtt/kiosk.kiosk-1.secret from the hall server",
            f"{hall}/secrets/gateway-1.key has mode 0644", f"sudo chmod 0600 {hall}/secrets/gateway-1.key")
    assert not (root / "etc" / "systemd" / "system").exists(), "nothing written when refused"


def test_the_demo_config_a_missing_kiosk_file_an_unknown_board_or_part_are_refused(tmp_path, hall):
    sample = tmp_path / "sample"
    shutil.copytree(ROOT / "config" / "city-hall", sample)
    refused(install(sample, tmp_path / "r", ["server"]), "uses the published demo credentials",
            "docs/deployment.md, 'Accounts and keys'")
    (hall / "kiosk-1.toml").unlink()
    refused(install(hall, tmp_path / "r", ["kiosk@kiosk-1"]),
            f"copy {hall}/kiosk.toml (its [kiosk] id is kiosk-1) there")
    refused(install(hall, tmp_path / "r", ["board@hall-2"]), 'has no [[boards]] id = "hall-2" (it has: lobby, zone-b)')
    refused(install(hall, tmp_path / "r", ["printer"]), "'printer' is not a part")
    refused(install(hall, tmp_path / "r", ["board"]), "say which board: board@<id>")
    refused(install(hall, tmp_path / "r", ["broker"]), "[mqtt] url empty, so hallq-server runs the hall's broker")
    r = hallq("services", "install", "--config", str(tmp_path / "nowhere" / "hall.toml"))
    assert r.returncode == 2 and "does not exist" in r.stderr


# -- the units start their parts -------------------------------------------------------------------

def service_command(unit: Path, credentials: Path, data_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The unit's ExecStart= and the environment it gives, as systemd would (%d: the credentials folder)."""
    lines = unit_lines(unit)
    argv = shlex.split(next(v for k, v in lines if k == "ExecStart"))
    env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8"}
    for key, value in lines:
        if key == "Environment":
            env |= dict(a.partition("=")[::2] for a in shlex.split(value.replace("%d", str(credentials))))
    assert env["HALLQ_DATA_DIR"].startswith("/var/lib/hallq/")
    env["HALLQ_DATA_DIR"] = str(data_dir)  # StateDirectory=, here a temporary one
    return argv, env


def start_unit(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_unit(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)  # what systemctl stop sends
        proc.wait(20)


def test_the_server_and_gateway_units_execstart_start_their_parts_with_the_units_credentials(hall, tmp_path):
    """The server answers /api/v1/health; the gateway, on a machine of its own (its own data dir, nothing of the
    server's), connects to the hall's broker with its MQTT secret and its device key handed over as credentials."""
    text = (hall / "hall.toml").read_text(encoding="utf-8")
    broker = free_port()  # the hall's own Mosquitto, on a port of its own (tests run side by side)
    (hall / "hall.toml").write_text(re.sub(r'(?m)^embedded_listen = ".*"$', f'embedded_listen = "127.0.0.1:{broker}"',
                                           text, count=1), encoding="utf-8")
    units = installed(hall, tmp_path / "root", ["server", "gateway"])
    argv, env = service_command(units["server"], tmp_path / "server-credentials", tmp_path / "data")
    assert "HALLQ_DEMO" not in env and "--demo" not in argv  # a real hall's unit: `hallq init` made its credentials
    port = free_port()
    server = start_unit([*argv, "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log")
    gateway = None
    try:
        client = HallClient(f"http://127.0.0.1:{port}", retries=0, timeout=1)
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, \
                f"the server exited with {server.returncode}:\n{(tmp_path / 'server.log').read_text()[-3000:]}"
            try:
                health = client.health()
                break
            except Exception:
                assert time.monotonic() < deadline, f"no health in 60 s:\n{(tmp_path / 'server.log').read_text()}"
                time.sleep(0.1)
        assert health["status"] in ("ok", "degraded"), health
        assert (tmp_path / "data" / "hallq.sqlite3").exists()

        # what LoadCredential= does: the root-only files, copied into the service's credentials folder
        secrets = tmp_path / "data" / "credentials" / "mqtt"
        shutil.copy(secrets / "gateway.gateway-1.secret", hall / "secrets" / "mqtt" / "gateway.gateway-1.secret")
        creds = tmp_path / "gateway-credentials"
        creds.mkdir(mode=0o700)
        shutil.copy(hall / "secrets" / "mqtt" / "gateway.gateway-1.secret", creds / "mqtt-secret")
        shutil.copy(hall / "secrets" / "gateway-1.key", creds / "device-key")
        status = MqttCollector(f"mqtt://127.0.0.1:{broker}", f"hallq/{SITE}/status/gateway/#", "status.operator",
                               (secrets / "status.operator.secret").read_text(encoding="utf-8").strip())
        try:
            argv, env = service_command(units["gateway"], creds, tmp_path / "gateway-data")
            assert "HALLQ_GATEWAY_KEY" not in env
            gateway = start_unit([*argv, "--server", f"http://127.0.0.1:{port}"], env, tmp_path / "gateway.log")
            try:
                status.wait_for(lambda topic, payload: topic.endswith("/gateway/gateway-1")
                                and payload.get("state") == "online", timeout=30)
            except TimeoutError:
                pytest.fail(f"the gateway never came online:\n{(tmp_path / 'gateway.log').read_text()[-3000:]}")
            assert gateway.poll() is None, (tmp_path / "gateway.log").read_text()
        finally:
            status.close()
        assert "not-a-real-secret" not in (tmp_path / "gateway.log").read_text()
    finally:
        if gateway is not None:
            stop_unit(gateway)
        stop_unit(server)


# -- a device key handed over as a credential --------------------------------------------------------

def test_a_kiosk_and_a_gateway_read_their_device_key_from_the_credential_file(hall, tmp_path, monkeypatch):
    from device_gateway.config import load_gateway
    from hallq.hallconfig import ConfigError
    from kiosk.config import load_kiosk

    key = tmp_path / "credentials" / "device-key"
    key.parent.mkdir()
    key.write_text((hall / "secrets" / "kiosk-1.key").read_text(encoding="utf-8"), encoding="utf-8")
    (hall / "kiosk-1.toml").write_text(
        re.sub(r'(?m)^device_key_file = .*$', 'device_key_file = "/nowhere/kiosk-1.key"',
               (hall / "kiosk-1.toml").read_text(encoding="utf-8")), encoding="utf-8")
    monkeypatch.setenv("HALLQ_DEVICE_KEY_FILE", str(key))
    assert load_kiosk(str(hall / "kiosk-1.toml")).device_key == key.read_text().strip()
    key.write_text((hall / "secrets" / "gateway-1.key").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.delenv("HALLQ_GATEWAY_KEY", raising=False)
    assert load_gateway(hall / "devices.toml").key == key.read_text().strip()
    monkeypatch.setenv("HALLQ_DEVICE_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="HALLQ_DEVICE_KEY_FILE: cannot read .*missing"):
        load_kiosk(str(hall / "kiosk-1.toml"))
