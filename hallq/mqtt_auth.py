"""Who may connect to a hall's broker and what each may publish: identities, passwords, the ACL.

Every process that talks MQTT has its own identity, ``<kind>.<id>``:
``server.queue``, ``board.lobby``, ``announcer.lobby``, ``kiosk.kiosk-1``,
``gateway.gateway-1``. The hall's identities are the server, the hall's
``[[devices]]`` that speak MQTT (kiosks, gateways, boards, announcers) and
the boards, announcer, kiosk and gateway configured beside hall.toml
(board.toml, announcer.toml, kiosk.toml, devices.toml).

The ACL (:func:`acl`) gives least privilege:

* the server reads and writes the hall's whole tree (it alone publishes hall
  state: calls, board, windows, queues, notices);
* every other identity reads the hall's state (calls, board, windows, queues,
  notices, everyone's availability) and writes only its own availability
  (``status/<kind>/<id>``) and its own devices' health (``devices/<id>/...``):
  a kiosk cannot speak for a board, a board cannot publish a call or a
  notice, nobody but the server reads the devices' health;
* ``status.operator`` (``hallq status``, run by an operator on the server
  machine) only reads: everyone's availability and the devices' health.

Passwords are random, kept one file per identity with mode 0600
(:class:`CredentialStore`), and given to Mosquitto only as PBKDF2-SHA512
hashes in its own format (``$7$``), never printed, logged, published or sent
in an HTTP response.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

MQTT_KINDS = ("kiosk", "gateway", "board", "announcer")  # [[devices]] kinds that speak MQTT (a tablet does not)
ITERATIONS = 101  # Mosquitto 2.0's own default for mosquitto_passwd


@dataclass(frozen=True)
class Identity:
    kind: str
    id: str

    @property
    def username(self) -> str:
        return f"{self.kind}.{self.id}"


SERVER = Identity("server", "queue")
STATUS_READER = Identity("status", "operator")  # hallq status: reads availability and health, writes nothing


# the device-health topics (devices/<id>/<device>/health) each kind may write: a kiosk and a gateway report several
# devices of their own; an announcer only its audio output, named announcer-<id> (display_board/announce_main.py);
# a board reports none. A board and an announcer may share an id (the samples' "lobby"): a rule by id alone let the
# board overwrite or erase the announcer's report
DEVICE_HEALTH_WRITES = {"kiosk": ("#",), "gateway": ("#",), "announcer": ("announcer-{id}/#",)}

log = logging.getLogger("hallq.mqtt_auth")
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # a device id, as hall.toml's [[devices]] id (hallq/config_schema.py)


def hall_identities(cfg) -> list[Identity]:
    """The server, the hall's MQTT devices, and the parts configured beside hall.toml (sorted, unique)."""
    found = {SERVER, STATUS_READER}
    found |= {Identity(d.kind, d.id) for d in cfg.devices if d.kind in MQTT_KINDS}
    folder = Path(cfg.path).parent
    for name, read in (("board.toml", lambda r: [("board", b["id"]) for b in r.get("boards", [])]),
                       ("announcer.toml", lambda r: [("announcer", r["announcer"]["id"])] if "announcer" in r else []),
                       ("kiosk.toml", lambda r: [("kiosk", r["kiosk"]["id"])] if "kiosk" in r else []),
                       ("devices.toml", lambda r: [("gateway", r["gateway"]["id"])] if "gateway" in r else [])):
        path = folder / name
        if path.exists():
            try:
                parts = read(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, KeyError, TypeError, UnicodeDecodeError):
                continue  # that part's own loader reports its file's problems when it starts
            for kind, ident in parts:
                # an id goes into the broker's ACL and password files line by line, and into topic filters: a
                # newline would add a rule, a + or # would widen one. Only a device id's characters are taken
                if isinstance(ident, str) and ID.fullmatch(ident):
                    found.add(Identity(kind, ident))
                else:
                    log.warning("%s: %s id %r is not an id (lower-case letters, digits and '-', at most 40): that "
                                "%s gets no broker account until it is fixed", path, kind, ident, kind)
    return sorted(found, key=lambda i: (i.kind != "server", i.username))


def acl(site: str, identities: list[Identity]) -> str:
    """Mosquitto's acl_file for ``identities`` (see the module's docstring)."""
    base = f"hallq/{site}"
    lines = [f"# hallq: the topic ACL of hall {site!r}, written by hallq; regenerate rather than edit.", ""]
    for ident in identities:
        lines.append(f"user {ident.username}")
        if ident == SERVER:
            lines.append(f"topic readwrite {base}/#")
        elif ident == STATUS_READER:
            lines += [f"topic read {base}/status/#", f"topic read {base}/devices/+/+/health"]
        else:
            lines += [f"topic read {base}/{t}" for t in ("calls", "board", "windows/+", "queues/+", "notices",
                                                          "status/#")]
            lines.append(f"topic write {base}/status/{ident.kind}/{ident.id}")
            lines += [f"topic write {base}/devices/{ident.id}/{t.format(id=ident.id)}"
                      for t in DEVICE_HEALTH_WRITES.get(ident.kind, ())]
        lines.append("")
    return "\n".join(lines)


def password_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """Mosquitto's PBKDF2-SHA512 password hash (what ``mosquitto_passwd`` writes)."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


class CredentialStore:
    """One secret file per identity (mode 0600) in ``folder``; a new identity gets a random password."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, ident: Identity) -> Path:
        return self.folder / f"{ident.username}.secret"

    def password(self, ident: Identity, create: bool = True) -> str | None:
        path = self.path(ident)
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        if not create:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        secret = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret + "\n")
        return secret

    def password_file(self, identities: list[Identity]) -> str:
        """Mosquitto's password_file for ``identities`` (creating the missing secrets)."""
        return "".join(f"{i.username}:{password_hash(self.password(i))}\n" for i in identities)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), replacing it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def credentials_folder(data_dir: Path) -> Path:
    return Path(data_dir) / "credentials" / "mqtt"


def client_credentials(kind: str, ident: str, data_dir: Path | None, username: str = "", password: str = "",
                       managed: bool = False) -> tuple[str, str]:
    """The username and password a process of ``kind``/``ident`` connects with.

    In order: ``HALLQ_MQTT_USERNAME`` with ``HALLQ_MQTT_PASSWORD_FILE`` (a
    service unit's credential, on a machine of its own); an account given in
    the configuration (``username``/``password``); this identity's secret in
    the hall's data directory (``<data dir>/credentials/mqtt``, written by
    the hall's own broker). ``managed``: the broker is the hall's own, so a
    missing secret is an error that says what to do. Otherwise empty strings
    (a broker that takes anyone: the tests' own).
    """
    user, secret_file = os.environ.get("HALLQ_MQTT_USERNAME", ""), os.environ.get("HALLQ_MQTT_PASSWORD_FILE", "")
    if user and secret_file:
        return user, Path(secret_file).read_text(encoding="utf-8").strip()
    if username:
        return username, password
    identity = Identity(kind, ident)
    secret = CredentialStore(credentials_folder(data_dir)).password(identity, create=False) if data_dir else None
    if secret is not None:
        return identity.username, secret
    if managed:
        raise PermissionError(
            f"no MQTT secret for {identity.username} in {credentials_folder(data_dir) if data_dir else '(no data dir)'}"
            f": the hall's broker knows only its identities; add [[devices]] id = \"{ident}\" kind = \"{kind}\" "
            "to hall.toml (or this part's own file beside it), and give this part the server's --data-dir")
    return "", ""
