"""The small processes of a station stay small: what each imports to start (``python -X importtime``), not
the modules it does not need idle (docs/deployment.md, "The small processes' memory").

Each test starts the process as ``hallq start`` does, waits for the line that says it is up, stops it, and
reads the modules it imported from ``-X importtime``'s lines on stderr.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from hallq.testing import ROOT
from launcher.supervisor import PLAN_ENV

# the config machinery and the parser of every subcommand: checked before the supervisor execs, not kept
CONFIG_AND_PARSER = {"hallq.hallconfig", "hallq.schema", "hallq.config_schema", "hallq.i18n", "tomllib",
                     "chinese_calendar", "launcher.cli", "launcher.components", "queue_server.cli", "kiosk.cli",
                     "display_board.cli", "device_gateway.cli", "simulation.cli", "county.cli", "launcher.county"}
# the web and crypto modules a plain HTTP/1.0 health check does without
WEB_AND_CRYPTO = {"urllib.request", "http.client", "email.parser", "ssl", "hashlib", "secrets"}
SERVER = {"flask", "jinja2", "sqlite3", "queue_server.db", "granian", "argon2"}


def imported_until(argv: list[str], ready: str, env: dict[str, str] | None = None, timeout: float = 30) -> set[str]:
    """The modules ``python -X importtime -m launcher <argv>`` imported by the time ``ready`` is on its stderr."""
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "launcher", *argv],
                            env={**os.environ, **(env or {})}, cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    modules: set[str] = set()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stderr:
            if line.startswith("import time:") and "|" in line:
                modules.add(line.rsplit("|", 1)[1].strip())
            else:
                seen.append(line)
            if ready in line:
                return modules
            assert time.monotonic() < deadline, "".join(seen[-30:])
        raise AssertionError(f"exited with {proc.wait()} before saying {ready!r}:\n" + "".join(seen[-30:]))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()


def test_the_supervisor_runs_its_plan_without_the_config_machinery_the_parser_or_the_web(tmp_path):
    marker = "hallq is running: the plan's banner"
    plan = {"parts": [], "health": "http://127.0.0.1:1/api/v1/health", "banner": marker, "verbose": False}
    modules = imported_until(["start"], marker, {PLAN_ENV: json.dumps(plan)})
    assert "launcher.supervisor" in modules and "subprocess" in modules  # it did run the plan
    assert not modules & (CONFIG_AND_PARSER | WEB_AND_CRYPTO | SERVER), sorted(modules & (CONFIG_AND_PARSER |
                                                                                         WEB_AND_CRYPTO | SERVER))


def test_the_supervisors_health_check_reads_the_servers_answer():
    import socket
    import threading

    from launcher.supervisor import _wait_healthy

    answers = [b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}",
               b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"database\": \"starting\"}",
               b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\nnot json",
               b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\": \"ok\", \"database\": \"ok\"}"]
    asked: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def serve() -> None:
            for answer in answers:
                conn, _ = listener.accept()
                with conn:
                    asked.append(conn.recv(4096))
                    conn.sendall(answer)

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        assert _wait_healthy(f"http://127.0.0.1:{port}/api/v1/health", 10)
        server.join(5)
    assert len(asked) == 4  # the first three answers were not healthy
    assert asked[0].startswith(b"GET /api/v1/health HTTP/1.0\r\n") and f"Host: 127.0.0.1:{port}".encode() in asked[0]
    assert not _wait_healthy(f"http://127.0.0.1:{port}/api/v1/health", 0.3)  # nothing listens any more


# the other parts' commands, and what only the whole ``hallq`` parser or another part needs
OTHER_PARTS = {"queue_server.cli", "kiosk.cli", "simulation.cli", "county.cli", "launcher.county", "launcher.init",
               "launcher.services", "launcher.status", "launcher.supervisor"}
CATALOGUES_WHOLE = {"babel", "babel.messages.pofile"}  # a part's messages are read from its own PO file


def tls_and_proxy() -> set[str]:
    """What paho-mqtt imports for a TLS broker (OpenSSL's libssl) and for a proxy, loaded when used only
    (hallq.lazyimports): the parts' broker is plain TCP here. With PySocks installed, paho looks a proxy up in
    the environment (urllib.request) at each connect, as it always did."""
    try:
        import socks  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return {"_ssl", "ssl", "urllib.request"}
    return {"_ssl", "ssl"}


def test_the_announcer_starts_with_its_own_part_only(tmp_path):
    modules = imported_until(["announce", "--config", str(ROOT / "config" / "village-station" / "hall.toml"),
                              "--output", "wav-dir", "--data-dir", str(tmp_path)], "listening on",
                             {"HALLQ_MQTT_URL": "mqtt://127.0.0.1:1"})
    assert {"display_board.announcer", "display_board.synth", "pyttsx3"} <= modules  # it is up, its voice ready
    unwanted = OTHER_PARTS | CATALOGUES_WHOLE | SERVER | tls_and_proxy() | {"display_board.board_main", "kivy",
                                                                         "device_gateway.cli"}
    assert not modules & unwanted, sorted(modules & unwanted)


def test_the_gateway_starts_with_its_own_part_only(tmp_path):
    modules = imported_until(["devices", "--config", str(ROOT / "config" / "city-hall" / "devices.toml"),
                              "--server", "http://127.0.0.1:1", "--data-dir", str(tmp_path)], "gateway gateway-1:",
                             {"HALLQ_MQTT_URL": "mqtt://127.0.0.1:1", "HALLQ_DEMO": "1"})
    assert {"device_gateway.gateway", "device_drivers.simulators"} <= modules  # it is up, its devices simulated
    assert "http.client" in modules  # it does talk HTTP to the server, which does not need ssl either
    unwanted = OTHER_PARTS | CATALOGUES_WHOLE | SERVER | tls_and_proxy() | {"display_board.cli", "pyttsx3", "kivy"}
    assert not modules & unwanted, sorted(modules & unwanted)


def test_each_parts_command_is_registered_by_the_component_named_for_it():
    import argparse

    from launcher.components import COMPONENTS, PART_COMMANDS, components

    registered: dict[str, str] = {}
    for module in components(COMPONENTS):
        sub = argparse.ArgumentParser().add_subparsers()

        def add(name, fn, help_, example, module=module, sub=sub):
            registered[name] = module.__name__
            return sub.add_parser(name)

        module.register(add)
    for command, owner in PART_COMMANDS.items():
        assert registered.get(command) == owner, command  # serve: the command's own (launcher.cli), None here
