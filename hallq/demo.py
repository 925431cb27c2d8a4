"""The demo credentials of the sample halls, and demo mode: the only way to serve with them.

The sample configs in config/ ship with one password for every demo account
(``hallq-demo``) and fixed device keys, so that a first run works without any
set-up. A hall that keeps them is open to anyone who has read this file, so
``hallq serve`` and ``hallq start`` refuse a config that uses any of them,
saying which and how to replace them, unless demo mode is asked for: the
``--demo`` flag or ``HALLQ_DEMO=1`` (``./run.sh start``, the tests and the
benchmarks do). See docs/deployment.md, "Accounts and keys".
"""

from __future__ import annotations

import hashlib
import os

DEMO_PASSWORD = "hallq-demo"
DEMO_PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$RjnulUTa59e75OYcUdUX5w$ZoRNJ72Vf1bApAEEYn3YmxTinrLNqGNU4nqYNf2rDNo"
DEMO_KEYS = ("demo-kiosk-1", "demo-kiosk-2", "demo-gateway-1", "demo-tablet-1", "demo-kiosk-station")
DEMO_ENV = "HALLQ_DEMO"


def demo_credentials(cfg) -> list[str]:
    """The accounts (job numbers) and devices (ids) of a hall config that use a demo credential."""
    keys = {hashlib.sha256(k.encode()).hexdigest() for k in DEMO_KEYS}
    return [f"staff {s.job_no}" for s in cfg.staff if s.password_hash == DEMO_PASSWORD_HASH] + \
           [f"device {d.id}" for d in cfg.devices if d.key_sha256 in keys]


def demo_mode(flag: bool = False) -> bool:
    """Whether demo mode was asked for: ``--demo`` or ``HALLQ_DEMO=1``."""
    return flag or os.environ.get(DEMO_ENV, "").strip().lower() in ("1", "true", "yes")


def refusal(cfg, command: str = "serve") -> str | None:
    """Why ``hallq <command>`` must not start with this config outside demo mode, and the fix; None if it may."""
    found = demo_credentials(cfg)
    if not found:
        return None
    named = ", ".join(found[:6]) + (f" and {len(found) - 6} more" if len(found) > 6 else "")
    return (f"hallq: {cfg.path} uses the published demo credentials ({named}): anyone who has read hallq's "
            f"source can sign in as them, so the server does not start with them.\n"
            f"  To run a real hall, replace them: `hallq hash-password` for each [[staff]] password_hash, "
            f"`hallq device-key` for each [[devices]] key_sha256 (docs/deployment.md, 'Accounts and keys').\n"
            f"  To try the sample hall, ask for demo mode: `hallq {command} --demo` (or {DEMO_ENV}=1).")
