"""``hallq init``: a new hall's configuration, from a sample, with its own credentials.

It copies a sample hall (the city hall or the village station in ``config/``) to a folder
outside the source tree and makes it the new hall's own:

* ``[hall]``: the site id, the name, the level and the address the operator gives;
* every ``[[staff]]`` account gets a new generated password, whose argon2id hash goes in the
  config; the passwords are printed once and kept nowhere (the operator hands them out; each
  clerk changes theirs at first sign-in on the console);
* every ``[[devices]]`` entry gets a new device key: its SHA-256 goes in hall.toml, the key itself
  into ``secrets/<device id>.key`` (0600), which the kiosk's ``device_key_file`` points to and a
  systemd unit loads as a credential;
* the demo's resident simulation (``simulation.toml``) is not copied: a real hall has real residents.

The result is checked before anything is written: it must load, and must hold no demo credential
(:mod:`hallq.demo`), so ``hallq serve --config <folder>/hall.toml`` starts it outside demo mode.
The business, window, hours and service-item sections are the sample's: edit them to the hall's
own (docs/configuration.md explains every key), then ``hallq check-config``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hallq.settings import SAMPLES, sample_dir, source_tree

LEVELS = ("city", "district", "town", "village")
SECRETS = "secrets"
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I: read aloud, typed once
_SITE = re.compile(r"[a-z][a-z0-9-]{1,39}")


class InitError(Exception):
    """Why the hall cannot be written, with the fix."""


@dataclass
class Account:
    job_no: str
    name: str
    role: str
    password: str


@dataclass
class NewHall:
    folder: Path
    files: list[Path] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    keys: dict[str, Path] = field(default_factory=dict)  # device id -> its key file


def register(add) -> None:
    p = add("init", cmd_init, "write a new hall's configuration from a sample, with its own passwords and keys",
            "hallq init --site zhongshan-town --name 钟山镇便民服务中心 --level town --to /etc/hallq/zhongshan-town")
    p.add_argument("--to", required=True, metavar="DIR", help="the new hall's folder (must not exist or be empty; "
                   "outside hallq's source tree), e.g. /etc/hallq/<site>")
    p.add_argument("--site", required=True, help="the hall's site id: lowercase letters, digits and '-', e.g. "
                   "zhongshan-town (names its data directory and its MQTT topics)")
    p.add_argument("--name", required=True, help="the hall's name in Simplified Chinese, e.g. 钟山镇便民服务中心")
    p.add_argument("--name-hant", help="the name in Traditional Chinese (default: as --name; edit later)")
    p.add_argument("--name-en", help="the name in English (default: as --name; edit later)")
    p.add_argument("--level", choices=LEVELS, help="city, district, town or village (default: the sample's)")
    p.add_argument("--sample", choices=SAMPLES, default="city-hall",
                   help="the sample to start from: city-hall (20 windows) or village-station (two windows)")
    p.add_argument("--address", help="the hall's address, printed on tickets")
    p.add_argument("--phone", help="the hall's telephone, printed on tickets")
    p.add_argument("--public-url", help="how residents' phones reach the server, e.g. http://192.168.10.2:8080 "
                   "(default: the sample's)")


def cmd_init(args: argparse.Namespace) -> int:
    """Write a new hall's configuration from a sample: its own site, name, passwords and device keys.

    The passwords are printed once, here, and kept nowhere else: hand them out now.
    """
    try:
        hall = init_hall(Path(args.to), site=args.site, name=args.name, name_hant=args.name_hant,
                         name_en=args.name_en, level=args.level, sample=args.sample, address=args.address,
                         phone=args.phone, public_url=args.public_url)
    except InitError as e:
        print(f"hallq init: {e}", file=sys.stderr)
        return 2
    print(report(hall))
    return 0


def report(hall: NewHall) -> str:
    width = max(len(a.name) for a in hall.accounts) if hall.accounts else 4
    lines = [f"A new hall in {hall.folder}:"] + [f"  {p.relative_to(hall.folder)}" for p in hall.files]
    lines += ["", "Accounts: each password is shown ONCE, here, and kept nowhere. Hand them out now;",
              "each person should change theirs at first sign-in (console: 修改密码).",
              f"  {'job no':8} {'name':{width}}  {'role':8} password"]
    lines += [f"  {a.job_no:8} {a.name:{width}}  {a.role:8} {a.password}" for a in hall.accounts]
    lines += ["", "Device keys (0600, give each to its device only; the config keeps only their SHA-256):"]
    lines += [f"  {device:12} {path}" for device, path in hall.keys.items()]
    lines += ["", "Next:",
              f"  edit {hall.folder / 'hall.toml'} (businesses, windows, hours, staff names) and "
              f"{hall.folder / 'services.toml'} (service items); docs/configuration.md explains every key",
              f"  hallq check-config {hall.folder / 'hall.toml'}",
              f"  hallq serve --config {hall.folder / 'hall.toml'} --host 0.0.0.0"]
    return "\n".join(lines)


def init_hall(to: Path, *, site: str, name: str, sample: str = "city-hall", name_hant: str | None = None,
              name_en: str | None = None, level: str | None = None, address: str | None = None,
              phone: str | None = None, public_url: str | None = None) -> NewHall:
    """Write the new hall to ``to`` (all or nothing) and return what was made, passwords included."""
    from hallq.demo import demo_credentials
    from hallq.hallconfig import ConfigError, load_hall

    to = to.expanduser().absolute()
    if not _SITE.fullmatch(site):
        raise InitError(f"site id {site!r}: use 2-40 lowercase letters, digits and '-', starting with a letter "
                        "(e.g. zhongshan-town)")
    if not name.strip():
        raise InitError("--name is empty: give the hall's name, e.g. 钟山镇便民服务中心")
    tree = source_tree()
    if tree is not None and to.is_relative_to(tree):
        raise InitError(f"{to} is inside hallq's source tree ({tree}), which an upgrade replaces: write the hall "
                        "somewhere of its own, e.g. /etc/hallq/<site> or ~/hallq/<site>")
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise InitError(f"{to} exists and is not an empty folder: hallq init never overwrites a hall; "
                        "choose a new folder, or move the old one away first")
    src = sample_dir(sample)
    if src is None:
        raise InitError(f"the sample {sample!r} is not installed with this hallq (looked in the source tree's "
                        "config/ and in <prefix>/share/hallq/config/): reinstall hallq, or copy config/ from its "
                        "source release")

    hall_text = (src / "hall.toml").read_text(encoding="utf-8")
    accounts: list[Account] = []
    hall_text = _new_identity(hall_text, site=site, name=name, name_hant=name_hant or name, name_en=name_en or name,
                              level=level, address=address, phone=phone, public_url=public_url)
    hall_text = _new_passwords(hall_text, accounts)
    keys: dict[str, str] = {}
    hall_text = _new_device_keys(hall_text, keys)
    others = {p.name: p.read_text(encoding="utf-8") for p in sorted(src.glob("*.toml"))
              if p.name not in ("hall.toml", "simulation.toml")}
    if "kiosk.toml" in others:
        others["kiosk.toml"] = _kiosk_key_file(others["kiosk.toml"], keys)
    if "devices.toml" in others:
        others["devices.toml"] = _gateway_key_env(others["devices.toml"])

    # write it all beside, check it, then move it into place: a hall is written whole or not at all
    to.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{to.name}.", dir=to.parent))
    try:
        (staging / "hall.toml").write_text(hall_text, encoding="utf-8")
        for fname, text in others.items():
            (staging / fname).write_text(text, encoding="utf-8")
        key_dir = staging / SECRETS
        key_dir.mkdir(mode=0o700)
        for device, key in keys.items():
            fd = os.open(key_dir / f"{device}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key + "\n")
        try:
            cfg = load_hall(staging / "hall.toml")
        except ConfigError as e:
            raise InitError(f"the new configuration does not load (a bug in hallq init, please report it):\n{e}") \
                from None
        left = demo_credentials(cfg)
        if left:
            raise InitError(f"demo credentials left in the new configuration (a bug in hallq init): {left}")
        if to.exists():
            to.rmdir()  # empty, checked above
        staging.rename(to)
    except BaseException:
        _remove(staging)
        raise
    files = sorted(p for p in to.rglob("*") if p.is_file())
    return NewHall(folder=to, files=files, accounts=accounts,
                   keys={d: to / SECRETS / f"{d}.key" for d in keys})


# -- the edits: line by line on the sample's text, so its comments stay --------------------------------

def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section_edit(text: str, section: str, values: dict[str, str]) -> str:
    """Set ``key = value`` lines of one ``[section]`` (replacing the sample's, else added at its top)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        raise InitError(f"the sample has no [{section}] section")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    todo = dict(values)
    for i in range(start + 1, end):
        m = re.match(r"(\s*)([A-Za-z_]+)(\s*=\s*)", lines[i])
        if m and m.group(2) in todo:
            lines[i] = f"{m.group(1)}{m.group(2)}{m.group(3)}{todo.pop(m.group(2))}\n"
    lines[start + 1:start + 1] = [f"{k} = {v}\n" for k, v in todo.items()]
    return "".join(lines)


def _new_identity(text: str, *, site: str, name: str, name_hant: str, name_en: str, level: str | None,
                  address: str | None, phone: str | None, public_url: str | None) -> str:
    values = {"site": _toml_str(site),
              "name": f"{{ zh-Hans = {_toml_str(name)}, zh-Hant = {_toml_str(name_hant)}, en = {_toml_str(name_en)} }}"}
    for key, value in (("level", level), ("address", address), ("phone", phone), ("public_url", public_url)):
        if value:
            values[key] = _toml_str(value)
    text = _section_edit(text, "hall", values)
    # the sample's header says its credentials are the demo's: these are not
    return text.replace('DEMO credentials (password "hallq-demo"): replace them before real use.',
                        "this hall's own, generated by hallq init.")


def new_password(job_no: str) -> str:
    """A password of 4 groups of 4 (about 90 bits), easy to read out and type once, that the rules accept."""
    from hallq.passwords import password_problem

    while True:
        password = "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
        if password_problem(password, job_no) is None:
            return password


def _new_passwords(text: str, accounts: list[Account]) -> str:
    from queue_server.auth import hash_password

    out: list[str] = []
    current: dict[str, str] = {}
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == "[[staff]]":
            current = {}
        m = re.match(r'\s*(job_no|name|role)\s*=\s*"([^"]*)"', line)
        if m:
            current[m.group(1)] = m.group(2)
        if re.match(r"\s*password_hash\s*=", line):
            job_no = current.get("job_no", "?")
            password = new_password(job_no)
            accounts.append(Account(job_no, current.get("name", ""), current.get("role", "staff"), password))
            line = f"password_hash = {_toml_str(hash_password(password))}\n"
        out.append(line)
    return "".join(out).replace('password "hallq-demo" for all; replace with `hallq staff passwd`',
                                "passwords generated by hallq init")


def _new_device_keys(text: str, keys: dict[str, str]) -> str:
    from queue_server.auth import new_device_key

    out: list[str] = []
    device = None
    for line in text.splitlines(keepends=True):
        m = re.match(r'\s*id\s*=\s*"([^"]+)"', line)
        if m:
            device = m.group(1)
        if re.match(r"\s*key_sha256\s*=", line):
            if device is None or device in keys:
                raise InitError(f"the sample's key_sha256 near {line.strip()!r} has no device id of its own")
            key, digest = new_device_key()
            keys[device] = key
            line = f"key_sha256 = {_toml_str(digest)}\n"
        out.append(line)
    return re.sub(r"(?m)^# DEMO keys:.*\n", "", "".join(out))


def _kiosk_key_file(text: str, keys: dict[str, str]) -> str:
    m = re.search(r'(?m)^id\s*=\s*"([^"]+)"', text)
    kiosk = m.group(1) if m else None
    if kiosk not in keys:
        raise InitError(f"the sample's kiosk.toml names kiosk {kiosk!r}, which hall.toml has no [[devices]] for")
    return re.sub(r'(?m)^device_key\s*=.*$', f'device_key_file = "{SECRETS}/{kiosk}.key"   '
                  "# 0600; on a kiosk machine of its own, copy it there", text)


def _gateway_key_env(text: str) -> str:
    # the gateway reads its key from the environment (a systemd credential or an EnvironmentFile), never the file
    return re.sub(r'(?m)^key\s*=\s*"demo-[^"]*".*\n', "", text)


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
