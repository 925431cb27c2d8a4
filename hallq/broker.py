"""The hall's own broker: Mosquitto, started and configured by hallq, never anonymous.

When a hall's ``[mqtt] url`` is empty, ``hallq serve`` (and so ``hallq
start``) runs Mosquitto for it on ``embedded_listen`` (127.0.0.1:11883 by
default), the broker a real hall runs in production, configured from the
hall config in ``<data dir>/broker/``:

* ``allow_anonymous false``, a password file with one identity per process
  (hallq/mqtt_auth.py) and their secrets in ``<data dir>/credentials/mqtt/``
  (0600, generated once, never printed);
* the ACL of :func:`hallq.mqtt_auth.acl`: only the server writes hall state;
  each device writes only its own availability and health;
* when the hall belongs to a county (``county-bridge.toml`` beside hall.toml),
  the bridge that carries its journal events to the county's broker
  (hallq/bridge.py).

Why Mosquitto rather than a broker inside the Python process (amqtt, until
2026-12): it enforces passwords and per-user ACLs as production does, is in
every distribution (``./run.sh`` installs it), costs the server no CPU, and a
demo then runs what a hall runs. ``hallq broker`` runs the same broker alone.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from hallq import bridge, contract
from hallq.mqtt_auth import CredentialStore, acl, credentials_folder, hall_identities, write_private

log = logging.getLogger("hallq.broker")


class BrokerStartError(RuntimeError):
    pass


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
                                              if os.access(p, os.X_OK)), None)


class HallBroker:
    """Mosquitto for one hall, as a child process: :meth:`start`, :meth:`stop`."""

    def __init__(self, cfg, data_dir: Path) -> None:
        from hallq import tls

        self.cfg = cfg
        self.tls = tls.files(data_dir) if cfg.mqtt.tls else None
        self.folder = Path(data_dir) / "broker"
        self.store = CredentialStore(credentials_folder(data_dir))
        self.host, self.port = _split_listen(cfg.mqtt.embedded_listen)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def configure(self) -> Path:
        """Write the broker's configuration, password file and ACL for the hall's identities; return the conf."""
        identities = hall_identities(self.cfg)
        try:
            county = bridge.load(Path(self.cfg.path).parent)  # county-bridge.toml beside hall.toml (hallq/bridge.py)
        except bridge.BridgeConfigError as e:
            raise BrokerStartError(f"the hall's bridge to its county is misconfigured: {e}") from None
        county_bridge = bridge.block(self.cfg.site, county) if county else []
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        write_private(self.folder / "passwd", self.store.password_file(identities))
        write_private(self.folder / "acl", acl(self.cfg.site, identities))
        conf = self.folder / "mosquitto.conf"
        write_private(conf, "\n".join([
            "# written by hallq for this hall's own broker (hallq/broker.py); regenerated at every start",
            "per_listener_settings false",
            f"listener {self.port} {self.host}",
            *([f"certfile {self.tls.cert}", f"keyfile {self.tls.key}", f"cafile {self.tls.ca}",
               "tls_version tlsv1.2"] if self.tls else []),
            "allow_anonymous false",
            f"password_file {self.folder / 'passwd'}",
            f"acl_file {self.folder / 'acl'}",
            f"user {getpass.getuser()}",  # the files are this user's (0600): do not switch to "mosquitto"
            "persistence false",  # the server republishes every retained state when it connects
            "set_tcp_nodelay true",
            "max_queued_messages 10000",
            # no message of the contract is larger (contract.MAX_PAYLOAD, and its topic): a bigger packet from a device
            # would be held in memory by every subscriber (and kept, if retained) before any of them refused it
            f"max_packet_size {contract.MAX_PAYLOAD + 8192}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "connection_messages false",
            *county_bridge,
            "",
        ]))
        log.info("hall broker: %d identities, password file and ACL in %s%s", len(identities), self.folder,
                 "; journal bridged to the county's broker" if county_bridge else "")
        return conf

    def start(self, timeout: float = 10.0) -> None:
        """Start Mosquitto and wait until it listens; raise :class:`BrokerStartError` with the cause and the fix."""
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerStartError("the hall's broker needs Mosquitto, which is not installed: run ./run.sh setup "
                                   "(or apt-get install mosquitto), or set [mqtt] url to a broker you run")
        if self.tls is not None and not self.tls.ready():
            raise BrokerStartError(f"[mqtt] tls = true, but the hall has no certificate in {self.tls.folder}: run "
                                   f"hallq tls --config {self.cfg.path} (docs/security.md, 'TLS on the hall LAN')")
        if port_in_use(self.host, self.port):
            raise BrokerStartError(
                f"cannot start the hall's broker: {self.host}:{self.port} is already in use (another hall, or a "
                f"broker of your own). Give this hall another [mqtt] embedded_listen, or set [mqtt] url to that "
                f"broker with its accounts (docs/deployment.md).")
        conf = self.configure()
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerStartError(f"Mosquitto exited with {self.proc.returncode} at start; its message is "
                                       f"above (configuration in {conf})")
            if port_in_use(self.host, self.port):
                log.info("hall broker (Mosquitto, pid %d) listening on %s", self.proc.pid, self.url)
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerStartError(f"Mosquitto did not listen on {self.host}:{self.port} within {timeout:.0f} s")

    def wait(self) -> int:
        return self.proc.wait() if self.proc else 0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
