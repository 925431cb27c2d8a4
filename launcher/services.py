"""``hallq services``: the systemd units a machine of the hall needs, written and enabled.

The units are templates in ``deploy/systemd/`` of the source (one per part; boards and kiosks are
templated per screen, ``hallq-board@<board id>``, ``hallq-kiosk@<kiosk id>``). ``hallq services
install`` fills in the install's paths and writes them to ``<root>/etc/systemd/system/``:

* ``@HALLQ@``: the ``hallq`` executable (the one running this command);
* ``@CONFIG@`` / ``@CONFIG_DIR@``: the hall config and its folder, ``/etc/hallq/<site>/``;
* ``@SITE@``: the hall's site id (``[hall] site``; the folder's name on a machine without hall.toml),
  so the data directory is ``/var/lib/hallq/<site>`` (``StateDirectory=``);
* ``@ANNOUNCER@`` / ``@GATEWAY@``: the announcer's and the gateway's ids (their broker identities);
* ``@SOURCE@``: the source tree, for ``Documentation=``.

Which parts a machine runs follows from the files in its config folder: ``hall.toml`` is the server,
``board.toml`` one board per ``[[boards]]`` entry, ``announcer.toml`` the announcer, ``devices.toml``
the gateway, a ``<kiosk id>.toml`` with a ``[kiosk]`` table a kiosk. Secrets never appear in a unit:
a part's MQTT secret is a ``LoadCredential=`` of ``<config dir>/secrets/mqtt/<kind>.<id>.secret``
and a kiosk's or gateway's device key one of ``<config dir>/secrets/<device id>.key`` (where ``hallq
init`` writes it), handed to the part as ``$HALLQ_DEVICE_KEY_FILE``; every such file owned by root and
not readable by others (0600 or 0640), read by systemd before the part drops to user ``hallq``. This
command creates no secret: it checks that they exist with that mode, and refuses, naming the file and
how to make it, when one does not.
See docs/deployment.md, "systemd".
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent.parent
# the source tree's deploy/systemd, else where a wheel installs them (pyproject's data-files)
UNITS_DIR = next((d for d in (SOURCE / "deploy" / "systemd", Path(sys.prefix) / "share" / "hallq" / "deploy" / "systemd")
                  if d.is_dir()), SOURCE / "deploy" / "systemd")
UNIT_FOLDER = Path("etc/systemd/system")
SECRETS = "secrets"  # <config dir>/secrets/, as hallq init writes it (root's, 0700)
KINDS = ("server", "broker", "board", "announcer", "kiosk", "gateway")
TEMPLATED = ("board", "kiosk")
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


class Refused(Exception):
    """Why the units cannot be installed, and the fix; ``str()`` lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Part:
    """One unit of the machine: ``server``, ``board@lobby``, ``kiosk@kiosk-1``…"""

    kind: str
    instance: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.instance}" if self.instance else self.kind

    @property
    def template(self) -> str:
        """The file in deploy/systemd/ (and the one written): ``hallq-board@.service``."""
        return f"hallq-{self.kind}@.service" if self.kind in TEMPLATED else f"hallq-{self.kind}.service"

    @property
    def unit(self) -> str:
        """The unit to enable: ``hallq-board@lobby.service``."""
        return f"hallq-{self.kind}@{self.instance}.service" if self.instance else self.template

    @staticmethod
    def parse(text: str) -> Part:
        kind, _, instance = text.strip().partition("@")
        if kind not in KINDS:
            raise Refused([f"{text!r} is not a part: give one of server, broker, board@<board id>, announcer, "
                           "kiosk@<kiosk id>, gateway"])
        if (kind in TEMPLATED) != bool(instance):
            raise Refused([f"{text!r}: " + (f"say which {kind}: {kind}@<id>" if kind in TEMPLATED
                                             else f"{kind} has no instance: write {kind}")])
        if instance and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", instance):
            raise Refused([f"{text!r}: an id is letters, digits, '-', '_' and '.'"])
        return Part(kind, instance)


@dataclass
class Machine:
    """A config folder (``/etc/hallq/<site>/``) and what it says about this machine's parts."""

    folder: Path
    hall: Path | None
    site: str
    boards: list[str] = field(default_factory=list)
    announcer: str = ""
    gateway: str = ""
    kiosks: dict[str, Path] = field(default_factory=dict)  # kiosk id -> its file
    own_broker: bool = False  # [mqtt] url is set: hallq serve does not start the broker

    def all_parts(self) -> list[Part]:
        """Every unit the folder configures, on whichever machine each runs."""
        found = [Part("server")] if self.hall else []
        found += [Part("gateway")] if self.gateway else []
        found += [Part("board", b) for b in self.boards]
        found += [Part("announcer")] if self.announcer else []
        found += [Part("kiosk", k) for k in self.kiosks]
        return found

    def parts(self) -> list[Part]:
        """The units of this machine by default: a server machine (hall.toml here) runs the server and the
        gateway (the window devices' serial buses are wired to it); a kiosk machine (no hall.toml) its kiosks,
        each in ``<kiosk id>.toml``. Boards and the announcer run on machines that also keep hall.toml (they
        read it): name them with ``--parts``, as the broker."""
        if self.hall:
            return [Part("server")] + ([Part("gateway")] if self.gateway else [])
        return [Part("kiosk", k) for k, f in self.kiosks.items() if f.stem == k]


def _toml(path: Path) -> dict[str, Any]:
    from hallq.hallconfig import read_toml

    return read_toml(path)


def read_machine(config: str | os.PathLike[str]) -> Machine:
    """The machine's config folder from ``--config`` (hall.toml, or the folder itself)."""
    from hallq.hallconfig import ConfigError

    path = Path(config).resolve()
    folder = path if path.is_dir() else path.parent
    hall = (folder / "hall.toml") if path.is_dir() else path
    if not folder.is_dir():
        raise Refused([f"{folder} does not exist: make the hall's config folder (docs/deployment.md, '1. The "
                       "server'), e.g. sudo mkdir -p /etc/hallq/my-hall && sudo cp -r config/city-hall/. "
                       "/etc/hallq/my-hall/"])
    if not path.is_dir() and not path.exists():
        raise Refused([f"{path} does not exist: give --config the hall's hall.toml (or its folder on a machine "
                       "without one, e.g. a kiosk's /etc/hallq/<site>/)"])
    machine = Machine(folder, hall if hall.exists() else None, folder.name)
    try:
        if machine.hall:
            raw = _toml(machine.hall)
            machine.site = str(raw.get("hall", {}).get("site") or folder.name)
            machine.own_broker = bool(str(raw.get("mqtt", {}).get("url", "")).strip())
        if (folder / "board.toml").exists():
            machine.boards = [str(b["id"]) for b in _toml(folder / "board.toml").get("boards", []) if "id" in b]
        if (folder / "announcer.toml").exists():
            machine.announcer = str(_toml(folder / "announcer.toml").get("announcer", {}).get("id", ""))
        if (folder / "devices.toml").exists():
            machine.gateway = str(_toml(folder / "devices.toml").get("gateway", {}).get("id", ""))
        for f in sorted(folder.glob("*.toml")):
            if f.name not in ("hall.toml", "board.toml", "announcer.toml", "devices.toml", "services.toml",
                              "simulation.toml"):
                kiosk = _toml(f).get("kiosk")
                if isinstance(kiosk, dict) and kiosk.get("id"):
                    machine.kiosks.setdefault(str(kiosk["id"]), f)
    except ConfigError as e:
        raise Refused([str(e)]) from None
    return machine


def credentials(machine: Machine, part: Part) -> list[tuple[Path, str]]:
    """The root-only files ``part``'s unit reads (its LoadCredential= and EnvironmentFile=), and how to make each."""
    folder = machine.folder / SECRETS
    if part.kind == "server":  # optional: an outside broker's password, HALLQ_MQTT_URL=mqtt://user:pass@…
        env = folder / "server.env"
        return [(env, "the server's environment (HALLQ_MQTT_URL with an outside broker's password)")] \
            if env.exists() else []
    ident = {"board": part.instance, "kiosk": part.instance, "announcer": machine.announcer,
             "gateway": machine.gateway}.get(part.kind)
    if not ident:
        return []
    user = f"{part.kind}.{ident}"
    on_server = f"/var/lib/hallq/{machine.site}/credentials/mqtt/{user}.secret"
    files = [(folder / "mqtt" / f"{user}.secret",
              f"its MQTT secret: copy {on_server} from the hall server (written at the server's first start, "
              f"or by `hallq broker --configure-only`), chmod 0600, owner root")]
    if part.kind in ("kiosk", "gateway"):
        files.append((folder / f"{ident}.key",
                      f"its device key: `hallq init` writes it there; else the key of `hallq device-key` (its "
                      f"key_sha256 in [[devices]] id = \"{ident}\" of hall.toml), chmod 0600, owner root"))
    return files


def check_credential(path: Path, owner: int = 0) -> str | None:
    """What is wrong with a credential file (missing, not root's, readable by others), or None.

    ``owner``: root, except for a staging tree (``--root``), which may be the user's own."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a file"
    if st.st_uid != owner:
        return f"{path} belongs to uid {st.st_uid}, not root: sudo chown root:root {path}"
    if st.st_mode & 0o137:
        return f"{path} has mode {stat.S_IMODE(st.st_mode):04o}: only 0600 or 0640 keep it secret: sudo chmod 0600 {path}"
    return None


def _problems(machine: Machine, part: Part, with_credentials: bool = True, owner: int = 0) -> list[str]:
    """What ``part`` lacks on this machine: its config files, an id, demo credentials, its credentials."""
    folder = machine.folder
    problems: list[str] = []
    needs_hall = part.kind in ("server", "broker", "board", "announcer")
    if needs_hall and machine.hall is None:
        problems.append(f"{part.name} reads {folder / 'hall.toml'}, which does not exist: copy the hall's "
                        "hall.toml there (hallq check-config checks it)")
    if part.kind == "board" and part.instance not in machine.boards:
        problems.append(f"{part.name}: {folder / 'board.toml'} has no [[boards]] id = \"{part.instance}\" "
                        f"(it has: {', '.join(machine.boards) or 'no board.toml'})")
    if part.kind == "announcer" and not machine.announcer:
        problems.append(f"announcer: {folder / 'announcer.toml'} is missing or has no [announcer] id")
    if part.kind == "gateway" and not machine.gateway:
        problems.append(f"gateway: {folder / 'devices.toml'} is missing or has no [gateway] id")
    if part.kind == "kiosk" and not (folder / f"{part.instance}.toml").exists():
        named = [str(f) for k, f in machine.kiosks.items() if k == part.instance]
        problems.append(f"{part.name} reads {folder / (part.instance + '.toml')}, which does not exist: "
                        + (f"copy {named[0]} (its [kiosk] id is {part.instance}) there" if named
                           else f"put the kiosk's config there, with [kiosk] id = \"{part.instance}\""))
    if part.kind in ("server", "broker") and machine.hall is not None:
        problems += _hall_problems(machine.hall, part)
    for path, how in credentials(machine, part) if with_credentials else []:
        wrong = check_credential(path, owner)
        if wrong:
            problems.append(f"{part.name}: {wrong}; it holds {how}")
    return problems


def _hall_problems(hall: Path, part: Part) -> list[str]:
    from hallq.demo import demo_credentials
    from hallq.hallconfig import ConfigError, load_hall

    try:
        cfg = load_hall(hall)
    except ConfigError as e:
        return [f"{part.name}: {hall} has problems (hallq check-config {hall}):\n{e}"]
    if part.kind == "broker" and cfg.mqtt.embedded and not cfg.mqtt.url:
        return [f"broker: {hall} has [mqtt] url empty, so hallq-server runs the hall's broker itself and a second "
                f"one would clash on {cfg.mqtt.embedded_listen}: leave the broker out, or set [mqtt] url = "
                f"\"mqtt://{cfg.mqtt.embedded_listen}\" so that the server uses the one hallq-broker runs"]
    demo = demo_credentials(cfg)
    if part.kind == "server" and demo:
        return [f"server: {hall} uses the published demo credentials ({', '.join(demo[:4])}"
                f"{', …' if len(demo) > 4 else ''}), which the server refuses outside demo mode: replace them "
                "(docs/deployment.md, 'Accounts and keys')"]
    return []


SERVICE_USER = "hallq"


def readable_by_service(machine: Machine, parts: list[Part]) -> list[str]:
    """Warnings: the files the units run as user ``hallq`` read (config folder, its .toml) that it cannot read."""
    import grp
    import pwd

    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return [f"there is no user {SERVICE_USER!r}, which the units run as: sudo useradd --system --home "
                f"/var/lib/hallq {SERVICE_USER}"]
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if SERVICE_USER in g.gr_mem}

    def can(path: Path, bit_user: int, bit_group: int, bit_other: int) -> bool:
        st = path.stat()
        return bool(st.st_uid == user.pw_uid and st.st_mode & bit_user or st.st_gid in groups and st.st_mode & bit_group
                    or st.st_mode & bit_other)

    files = {machine.folder / name for part in parts for name in {
        "server": ["hall.toml"], "broker": ["hall.toml"], "gateway": ["devices.toml", "hall.toml"],
        "board": ["board.toml", "hall.toml"], "announcer": ["announcer.toml", "hall.toml"],
        "kiosk": [f"{part.instance}.toml"]}[part.kind]}
    warnings = []
    for folder in [*reversed(machine.folder.parents), machine.folder]:
        if folder.exists() and not can(folder, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
            warnings.append(f"user {SERVICE_USER} cannot enter {folder}: sudo chgrp {SERVICE_USER} {folder} && "
                            f"sudo chmod 0750 {folder} (its secrets/ stays root's, 0700)")
    for f in sorted(files):
        if f.exists() and not can(f, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH):
            warnings.append(f"user {SERVICE_USER} cannot read {f}: sudo chgrp {SERVICE_USER} {f} && sudo chmod 0640 {f}")
    return warnings


def hallq_executable() -> Path:
    """The ``hallq`` of this install: beside this Python (a venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "hallq"
    if beside.exists():
        return beside.absolute()
    found = shutil.which("hallq")
    if not found:
        raise Refused(["no `hallq` executable beside this Python nor on PATH: install hallq (./run.sh setup), "
                       "or give --hallq /path/to/hallq"])
    return Path(found).absolute()


def values(machine: Machine, hallq: Path) -> dict[str, str]:
    return {"@HALLQ@": str(hallq), "@CONFIG@": str(machine.folder / "hall.toml"), "@CONFIG_DIR@": str(machine.folder),
            "@SITE@": machine.site, "@ANNOUNCER@": machine.announcer, "@GATEWAY@": machine.gateway,
            "@SOURCE@": str(SOURCE)}


def render(template: str, fill: dict[str, str]) -> str:
    """A unit template with its ``@NAME@`` placeholders filled; a placeholder left over is a bug here."""
    text = PLACEHOLDER.sub(lambda m: fill.get(m.group(0), m.group(0)), template)
    left = set(PLACEHOLDER.findall(text))
    if left:
        raise ValueError(f"unfilled placeholders {sorted(left)} in a unit template")
    return text


@dataclass
class Installed:
    written: list[Path]
    unchanged: list[Path]
    units: list[str]
    credentials: list[Path]
    commands: list[list[str]]
    warnings: list[str] = field(default_factory=list)


def install(config: str | os.PathLike[str], parts: Iterable[str] | None = None, root: Path | None = None,
            hallq: Path | None = None) -> Installed:
    """Write the filled units of ``parts`` (default: the machine's, :meth:`Machine.parts`) to ``<root>/etc/…``.

    Raises :class:`Refused` with every problem (missing config, id or credential) before writing anything.
    Idempotent: a unit already as it should be is left alone.
    """
    machine = read_machine(config)
    chosen = [Part.parse(p) for p in parts] if parts else machine.parts()
    if not chosen:
        raise Refused([f"{machine.folder} has no unit for this machine by default (no hall.toml, nor a kiosk's "
                       "<kiosk id>.toml): name the parts with --parts (hallq services list shows them)"])
    owner = os.geteuid() if root is not None else 0
    problems = [p for part in chosen for p in _problems(machine, part, owner=owner)]
    if not UNITS_DIR.is_dir():
        problems.append(f"the unit templates are not in {UNITS_DIR} (nor in {sys.prefix}/share/hallq/deploy/systemd): "
                        "reinstall hallq, or run it from its source tree (/opt/hallq)")
    if problems:
        raise Refused(problems)
    fill = values(machine, hallq or hallq_executable())
    target = (root or Path("/")) / UNIT_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    done = Installed([], [], [], [], [])
    for template in dict.fromkeys(p.template for p in chosen):
        text = render((UNITS_DIR / template).read_text(encoding="utf-8"), fill)
        path = target / template
        if path.exists() and path.read_text(encoding="utf-8") == text:
            done.unchanged.append(path)
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        done.written.append(path)
    done.units = [p.unit for p in chosen]
    done.warnings = readable_by_service(machine, chosen)
    done.credentials = [c for p in chosen for c, _ in credentials(machine, p)]
    done.commands = [["systemctl", "daemon-reload"], ["systemctl", "enable", *done.units]]
    return done


def systemd_running() -> bool:
    """Whether systemd is this machine's init (sd_booted(): /run/systemd/system exists)."""
    return Path("/run/systemd/system").is_dir()


WHERE = {"server": "the hall server", "gateway": "the hall server (its serial buses)",
         "board": "a TV's PC", "announcer": "the loudspeaker's PC", "kiosk": "the kiosk", "broker": "the hall server"}


def describe(machine: Machine) -> list[str]:
    """``hallq services list``: the units of this machine and of the others, what each reads, its credentials."""
    lines = [f"{machine.folder}: hall {machine.site}"]
    mine = machine.parts()
    others = [p for p in machine.all_parts() if p not in mine]
    if machine.own_broker:
        others.append(Part("broker"))
    lines.append("this machine's units (hallq services install):" if mine else
                 "this machine's units: none found (a kiosk's is <kiosk id>.toml with [kiosk] id = \"<kiosk id>\")")
    lines += _describe(machine, mine)
    if others:
        lines.append("units of the hall's other machines (install them there, or here with --parts):")
        lines += _describe(machine, others)
    return lines


def _describe(machine: Machine, parts: list[Part]) -> list[str]:
    lines = []
    for part in parts:
        reads = {"server": "hall.toml", "gateway": "devices.toml and hall.toml",
                 "board": f"board.toml (board {part.instance}) and hall.toml", "announcer": "announcer.toml and hall.toml",
                 "kiosk": f"{part.instance}.toml",
                 "broker": "hall.toml; only if [mqtt] url names the broker `hallq broker` runs here"}[part.kind]
        lines.append(f"  {part.unit:<32} on {WHERE[part.kind]}: reads {reads}")
        for path, _how in credentials(machine, part):
            wrong = check_credential(path)
            said = "ok (root, not readable by others)" if not wrong else wrong.replace(f"{path} ", "", 1)
            lines.append(f"      credential {path}: {said}")
        lines += [f"      problem: {p}" for p in _problems(machine, part, with_credentials=False)]
    return lines


# -- the command ----------------------------------------------------------------------------------

def cmd_services(args: argparse.Namespace) -> int:
    """The systemd units this machine needs (list), written and enabled (install).

    The machine's parts follow from its config folder (/etc/hallq/<site>/): hall.toml the server,
    board.toml its boards, announcer.toml the announcer, devices.toml the gateway, <kiosk id>.toml a
    kiosk. Secrets are root-only files in <config folder>/secrets/, never in a unit.
    """
    if args.action is None:
        print("hallq services: say list or install (hallq services --help)", file=sys.stderr)
        return 2
    try:
        if args.action == "list":
            for line in describe(read_machine(args.config)):
                print(line)
            return 0
        root = Path(args.root).resolve() if args.root else None
        done = install(args.config, [p for p in (args.parts or "").split(",") if p.strip()] or None, root,
                       Path(args.hallq).absolute() if args.hallq else None)
    except Refused as e:
        print(f"hallq services: cannot {args.action} the units:\n{e}", file=sys.stderr)
        return 2
    for path in done.written:
        print(f"wrote     {path}")
    for path in done.unchanged:
        print(f"unchanged {path}")
    for path in done.credentials:
        print(f"credential {path}: ok (root, not readable by others)")
    for warning in done.warnings:
        print(f"warning: {warning}")
    if root is not None or args.no_enable or not systemd_running():
        why = ("--root" if root is not None else "--no-enable" if args.no_enable
               else "systemd is not running here (not PID 1)")
        print(f"not enabled ({why}); on the machine, run:")
        for command in [*done.commands, ["systemctl", "start", *done.units]]:
            print("  " + " ".join(command))
        return 0
    for command in done.commands:
        print("$ " + " ".join(command))
        if subprocess.run(command).returncode != 0:
            print(f"hallq services: `{' '.join(command)}` failed; see `journalctl -xe` and fix it, then run "
                  "hallq services install again", file=sys.stderr)
            return 1
    print(f"enabled; start them now with: systemctl start {' '.join(done.units)}")
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("services", cmd_services, "the systemd units this machine needs: list, install and enable them",
            "sudo hallq services install --config /etc/hallq/my-hall/hall.toml")
    sub = p.add_subparsers(dest="action", metavar="list|install")
    s = sub.add_parser("list", help="the units this machine needs, from its config folder, and their credentials")
    s.add_argument("--config", required=True, help="the hall config (or the config folder, /etc/hallq/<site>/)")
    s = sub.add_parser("install", help="write the units to /etc/systemd/system, then daemon-reload and enable them")
    s.add_argument("--config", required=True, help="the hall config (or the config folder, /etc/hallq/<site>/)")
    s.add_argument("--parts", help="comma-separated: server, broker, board@<id>, announcer, kiosk@<id>, gateway "
                   "(default: the parts the config folder has)")
    s.add_argument("--root", help="write under this folder instead of / and enable nothing, e.g. to review them "
                   "(credential files may then be the user's own rather than root's)")
    s.add_argument("--no-enable", action="store_true", help="write the units, print the systemctl commands")
    s.add_argument("--hallq", help="the hallq executable the units run (default: this one)")
