"""The county's broker: NATS with its MQTT gateway and JetStream, configured by hallq.

Why NATS (docs/county.md, "Why NATS"): one static binary in Debian (``nats-server``), clustered by
listing routes, with MQTT QoS 1 sessions and messages kept in JetStream, replicated across a cluster
of three; it starts in milliseconds and enforces per-account publish permissions on the MQTT topics
(a hall's account may publish only under its own site). RabbitMQ's MQTT plugin was the other
candidate: heavier (Erlang, seconds to start), and in 3.10 its retained messages are node-local.

:func:`nats_config` writes the server's configuration: the MQTT listener, JetStream's store, one
account per hall (``hall-<site>``: publish ``hallq/<site>/journal`` and its server's availability only,
read nothing) and the platform's (read every hall's journal and availability, write only its own
availability). Secrets: each hall's broker password is generated once into
``<data dir>/broker/halls/<site>.secret`` (0600) and handed to that hall in its
``county-bridge.toml`` (``hallq platform bridge-config``); the platform's own is its ``[broker]
password`` reference. nats.conf (0600) holds every user's password as a bcrypt hash only, never in clear
(county/broker_hashes.py: NATS compares a client's password against it), each hash stored beside its
password and reused while the password is unchanged, so that a start does not re-hash every hall.

``cluster`` (optional) makes the server one node of a NATS cluster: ``name``, ``listen`` and the
``routes`` to the other nodes; with three nodes JetStream replicates the MQTT sessions and messages
(``stream_replicas``). The tests run the single-node form.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from county.broker_hashes import BrokerHashError, HashStore, bcrypt_hash
from county.config import CountyConfig, resolve_secret
from hallq.mqtt_auth import write_private

log = logging.getLogger("hallq.county.broker")

PLATFORM_USER = "platform"


class CountyBrokerError(RuntimeError):
    pass


@dataclass(frozen=True)
class Cluster:
    name: str
    listen: str                 # host:port of this node's cluster (route) listener
    routes: tuple[str, ...] = ()  # nats-route://host:port of the other nodes
    replicas: int = 3           # JetStream replicas of the MQTT streams (3 in a 3-node cluster)


@dataclass
class BrokerSettings:
    folder: Path                # <data dir>/broker
    mqtt_listen: str            # host:port for MQTT (the halls' bridges and the platform)
    client_listen: str = "127.0.0.1:0"  # NATS's own protocol: loopback only (monitoring and nats CLI)
    server_name: str = "county-1"
    tls_cert: str = ""
    tls_key: str = ""
    cluster: Cluster | None = None
    extra_users: dict[str, str] = field(default_factory=dict)


def nats_binary() -> str:
    found = shutil.which("nats-server") or next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server")
                                                 if os.access(p, os.X_OK)), None)
    if found is None:
        raise CountyBrokerError("the county broker needs nats-server, which is not installed: run ./run.sh setup "
                                "(or apt-get install nats-server)")
    return found


def hall_user(site: str) -> str:
    return f"hall-{site}"


def hall_secret(folder: Path, site: str, create: bool = True) -> str | None:
    """The county broker password of hall ``site`` (generated once, 0600)."""
    path = Path(folder) / "halls" / f"{site}.secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    if not create:
        return None
    write_private(path, secrets.token_urlsafe(24) + "\n")
    os.chmod(path.parent, 0o700)
    return path.read_text(encoding="utf-8").strip()


def hall_hash_path(folder: Path, site: str) -> Path:
    """Where the bcrypt hash of hall ``site``'s password is kept, beside its secret."""
    return Path(folder) / "halls" / f"{site}.bcrypt"


def _q(value: str) -> str:
    """A NATS config string: double-quoted, with its own escapes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _subject(topic_filter: str) -> str:
    """An MQTT topic filter as the NATS subject it maps to (``/`` → ``.``, ``+`` → ``*``, ``#`` → ``>``)."""
    return topic_filter.replace("/", ".").replace("+", "*").replace("#", ">")


def nats_config(cfg: CountyConfig, s: BrokerSettings) -> str:
    platform_password = resolve_secret(cfg.broker.password, "[broker] password") if cfg.broker.password else ""
    if not platform_password or not cfg.broker.username:
        raise CountyBrokerError("the county broker needs the platform's account: set [broker] username and "
                                "password (env:NAME or file:/path) in county.toml")
    try:
        return _config(cfg, s, platform_password)
    except BrokerHashError as e:
        raise CountyBrokerError(f"cannot write the county broker's configuration: {e}") from None


def _config(cfg: CountyConfig, s: BrokerSettings, platform_password: str) -> str:
    hashes = HashStore(s.folder)
    platform_hash = hashes.hash_for(platform_password, Path(s.folder) / "platform.bcrypt",
                                    "the platform's broker password ([broker] password)")
    users = [
        "    {user: %s, password: %s, permissions: {publish: {allow: [%s]}, subscribe: {allow: [%s]}}}" % (
            _q(cfg.broker.username), _q(platform_hash), _q(_subject("hallq/_county/#")),
            ", ".join([*(_q(_subject(t)) for t in ("hallq/+/journal", "hallq/+/status/server/queue",
                                                   "hallq/_county/#")),
                       _q("$MQTT.sub.>")])),  # the delivery subjects of its own QoS 1 (JetStream) subscriptions
    ]
    for site, hall in sorted(cfg.halls.items()):
        if not hall.active:
            continue
        password = hall_secret(s.folder, site)
        assert password is not None
        hashed = hashes.hash_for(password, hall_hash_path(s.folder, site), f"hall {site}'s broker password")
        users.append("    {user: %s, password: %s, permissions: {publish: {allow: [%s, %s]}, "
                     "subscribe: {deny: [\">\"]}}}" % (_q(hall_user(site)), _q(hashed),
                                                        _q(_subject(f"hallq/{site}/journal")),
                                                        _q(_subject(f"hallq/{site}/status/server/queue"))))
    for user, password in s.extra_users.items():  # tests: an account that may publish anywhere (a rogue hall)
        hashed = bcrypt_hash(password, hashes.cost, f"user {user}'s broker password")  # few: made at each write
        users.append(f"    {{user: {_q(user)}, password: {_q(hashed)}}}")
    mhost, _, mport = s.mqtt_listen.rpartition(":")
    chost, _, cport = s.client_listen.rpartition(":")
    lines = [
        "# the county's broker: written by hallq (county/broker.py); regenerate rather than edit",
        f"server_name: {_q(s.server_name)}",
        f"listen: {_q(f'{chost}:{cport}' if cport != '0' else f'{chost}:-1')}",
        "jetstream {",
        f"  store_dir: {_q(str(s.folder / 'jetstream'))}",
        "}",
        "mqtt {",
        f"  listen: {_q(f'{mhost}:{mport}')}",
        "  ack_wait: \"30s\"",
        "  max_ack_pending: 1024",
    ]
    if s.tls_cert:
        lines += ["  tls {", f"    cert_file: {_q(s.tls_cert)}", f"    key_file: {_q(s.tls_key)}", "  }"]
    if s.cluster is not None:
        lines.append(f"  stream_replicas: {s.cluster.replicas}")
    lines.append("}")
    if s.cluster is not None:
        lines += ["cluster {", f"  name: {_q(s.cluster.name)}", f"  listen: {_q(s.cluster.listen)}",
                  "  routes: [" + ", ".join(_q(r) for r in s.cluster.routes) + "]", "}"]
    lines += ["authorization {", "  users: [", *users, "  ]", "}", ""]
    return "\n".join(lines)


def _listening(listen: str) -> bool:
    host, _, port = listen.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host or "127.0.0.1", int(port))) == 0


class CountyBroker:
    """``nats-server`` for the county, as a child process: :meth:`start`, :meth:`stop`."""

    def __init__(self, cfg: CountyConfig, settings: BrokerSettings) -> None:
        self.cfg = cfg
        self.settings = settings
        self.proc: subprocess.Popen | None = None
        self.log = settings.folder / "nats.log"

    def configure(self) -> Path:
        folder = self.settings.folder
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        conf = folder / "nats.conf"
        write_private(conf, nats_config(self.cfg, self.settings))
        return conf

    def start(self, timeout: float = 15.0) -> None:
        binary = nats_binary()
        if _listening(self.settings.mqtt_listen):
            raise CountyBrokerError(f"cannot start the county broker: {self.settings.mqtt_listen} is already in use")
        conf = self.configure()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CountyBrokerError(f"nats-server exited with {self.proc.returncode} at start: "
                                        f"{self.log.read_text(errors='replace')[-1500:]}")
            if _listening(self.settings.mqtt_listen):
                log.info("county broker (NATS, pid %d) listening for MQTT on %s", self.proc.pid,
                         self.settings.mqtt_listen)
                return
            time.sleep(0.02)
        self.stop()
        raise CountyBrokerError(f"nats-server did not listen on {self.settings.mqtt_listen} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def wait(self) -> int:
        return self.proc.wait() if self.proc else 0


def bridge_files(cfg: CountyConfig, folder: Path, site: str, address: str, out: Path, tls: bool = False,
                 cafile: str = "", platform_url: str = "") -> Path:
    """Write ``county-bridge.toml`` and its secret for hall ``site`` into ``out`` (to go beside its hall.toml).

    With ``platform_url`` (the platform as the hall reaches it) the file also gets ``[platform]``, the hall's
    link for 就近办 (queue_server/nearby.py), and ``county-platform.key`` the county's key for the hall."""
    if site not in cfg.halls:
        raise CountyBrokerError(f"hall {site!r} is not in {cfg.path}: add it to [[halls]] first")
    password = hall_secret(folder, site)
    out.mkdir(parents=True, exist_ok=True)
    write_private(out / "county-bridge.secret", f"{password}\n")
    toml = out / "county-bridge.toml"
    write_private(toml, "\n".join([
        f"# written by hallq platform bridge-config for hall {site} of county {cfg.id}: put it beside hall.toml",
        "[bridge]",
        f"address = {_q(address)}",
        f"tls = {'true' if tls else 'false'}",
        f"cafile = {_q(cafile)}",
        f"username = {_q(hall_user(site))}",
        'password_file = "county-bridge.secret"',
        "",
    ]))
    if platform_url:
        from county.config import CountyConfigError, resolve_secret

        try:
            key = resolve_secret(cfg.halls[site].credential, f"halls[site={site}].credential")
        except CountyConfigError as e:
            raise CountyBrokerError(f"the county's key for {site} is needed for [platform]: {e}") from None
        write_private(out / "county-platform.key", f"{key}\n")
        with open(toml, "a", encoding="utf-8") as f:
            f.write("\n".join([
                "# 就近办: nearby halls' waits, from the county platform (docs/county.md)",
                "[platform]",
                f"url = {_q(platform_url.rstrip('/'))}",
                'key_file = "county-platform.key"',
                "refresh_seconds = 45",
                "show_after_minutes = 20",
                "",
            ]))
    return toml
