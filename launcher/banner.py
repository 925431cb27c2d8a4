"""What ``hallq start`` prints once the hall is up: every part it started, where to look, and the accounts.

Everything is read from the hall actually started (its config and the files beside it), so the
village station's banner names the station's accounts, not the city hall's. The only secret it
ever prints is the published demo password (:data:`hallq.demo.DEMO_PASSWORD`), and only in demo
mode for the accounts that use it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROLES = (("admin", "administrator"), ("manager", "manager"), ("staff", "window staff"))


def job_ranges(numbers: list[str]) -> str:
    """``1001–1020, 1031`` for a list of job numbers: runs of consecutive numbers shortened."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(run[0] if len(run) == 1 else f"{run[0]}–{run[-1]}")

    for n in numbers:
        if run and n.isascii() and n.isdigit() and run[-1].isascii() and run[-1].isdigit() \
                and int(n) == int(run[-1]) + 1 and len(n) == len(run[-1]):
            run.append(n)
            continue
        flush()
        run = [n]
    flush()
    return ", ".join(out)


def accounts(cfg, demo: bool) -> list[str]:
    """The hall's accounts by role, and the password where it is the published demo one."""
    from hallq.demo import DEMO_PASSWORD, DEMO_PASSWORD_HASH

    lines = []
    known = {role for role, _ in ROLES}
    roles = [*ROLES, *((r, r) for r in sorted({s.role for s in cfg.staff} - known))]
    for role, label in roles:
        numbers = [s.job_no for s in cfg.staff if s.role == role]
        if numbers:
            lines.append(f"  {label:<15} {job_ranges(numbers)}")
    with_demo = [s for s in cfg.staff if s.password_hash == DEMO_PASSWORD_HASH]
    if demo and with_demo:
        which = "" if len(with_demo) == len(cfg.staff) else f" (accounts {job_ranges([s.job_no for s in with_demo])})"
        lines.append(f"  {'password':<15} {DEMO_PASSWORD}{which}: the published demo password")
    if len(with_demo) < len(cfg.staff) or not demo:
        lines.append(f"  {'passwords':<15} as set in {cfg.path} (hallq hash-password); not shown")
    return lines


def _first_id(path: Path, table: str) -> str:
    """The id of the first board (``[[boards]]``) or of the kiosk (``[kiosk]``) in a part's file, or ``*``."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get(table)
    except (OSError, tomllib.TOMLDecodeError):
        return "*"
    first = raw[0] if isinstance(raw, list) and raw else raw
    return str(first.get("id", "*")) if isinstance(first, dict) else "*"


def _printer(path: Path, demo: bool) -> str:
    """The kiosk's printer as kiosk.toml chooses it (``hallq start --demo`` simulates every device)."""
    try:
        driver = str(tomllib.loads(path.read_text(encoding="utf-8")).get("printer", {}).get("driver", "simulator"))
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        driver = "simulator"
    return "simulator" if demo else driver


def banner(cfg, parts: list[str], base: str, data: Path, demo: bool) -> str:
    """The banner for the parts started (names as in ``--only``), the server at ``base``, data in ``data``."""
    from hallq.i18n import pick

    here = cfg.path.parent
    where = {
        "server": [f"{base}  health {base}/api/v1/health",
                   f"API {base}/api/v1/hall  ·  OpenAPI {base}/api/v1/openapi.json",
                   f"consoles: sign in at {base}/console/login",
                   f"a resident's ticket page (the QR on each ticket): {base}/t/<ticket id>"],
        "board": [f"a window; without a screen {data / ('board-' + _first_id(here / 'board.toml', 'boards'))}.png"],
        "announcer": [f"the loudspeaker; without a sound card {data / 'announcements'}/*.wav"],
        "kiosk": [f"a window; without a screen {data / (_first_id(here / 'kiosk.toml', 'kiosk') + '-screens')}/*.png",
                  f"printed tickets {data / (_first_id(here / 'kiosk.toml', 'kiosk') + '-printed')}/"
                  if (printer := _printer(here / "kiosk.toml", demo)) == "simulator"
                  else f"tickets on the {printer} printer kiosk.toml names"],
        "devices": ["simulated LED strips, keypads and rating pads: "
                    f"hallq devices show --config {here / 'devices.toml'} --data-dir {data}"],
        "simulation": ["simulated residents and clerks, so the board and the voice come alive"],
    }
    lines = [f"\nhallq is running: {pick(cfg.name)} (site {cfg.site}, {cfg.path})"]
    for name in parts:
        first, *more = where.get(name, ["started"])
        lines.append(f"  {name:<15} {first}")
        lines.extend(f"  {'':<15} {m}" for m in more)
        if name == "server" and cfg.mqtt.embedded:
            lines.append(f"  {'broker':<15} the hall's own Mosquitto on {cfg.mqtt.embedded_listen}")
    lines.append(f"  {'data directory':<15} {data}")
    lines.append("Accounts (sign in at /console/login):")
    lines.extend(accounts(cfg, demo))
    lines.append("Ctrl-C stops everything.\n")
    return "\n".join(lines)
