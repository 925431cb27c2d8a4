"""Where a hall keeps its data, and the per-installation secret.

The data directory holds the SQLite database, the secret key and logs. It is
``$HALLQ_DATA_DIR`` when set; otherwise ``/var/lib/hallq/<site>`` for root
(a kiosk PC or server installed as a service) and
``~/.local/share/hallq/<site>`` for anyone else.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

SAMPLES = ("city-hall", "village-station")  # the sample halls in config/


def source_tree() -> Path | None:
    """hallq's source checkout when it runs from one (an editable install), else None (a wheel install)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "config").is_dir() else None


def sample_dir(name: str) -> Path | None:
    """The folder of a sample hall: the source tree's ``config/<name>``, else where a wheel installs it
    (``<prefix>/share/hallq/config/<name>``); None when neither has it."""
    tree = source_tree()
    for folder in ([tree / "config" / name] if tree else []) + [Path(sys.prefix) / "share" / "hallq" / "config" / name]:
        if (folder / "hall.toml").is_file():
            return folder
    return None


DEFAULT_CONFIG = (sample_dir("city-hall") or Path(sys.prefix) / "share" / "hallq" / "config" / "city-hall") / "hall.toml"


def config_given(override: str | os.PathLike[str] | None = None) -> bool:
    """Whether a hall config was named (``--config`` or ``$HALLQ_CONFIG``) rather than the sample assumed."""
    return bool(override or os.environ.get("HALLQ_CONFIG"))


def data_dir(site: str, override: str | os.PathLike[str] | None = None, create: bool = True) -> Path:
    """The data directory for ``site`` (created if missing, unless ``create`` is false)."""
    if override:
        path = Path(override)
    elif os.environ.get("HALLQ_DATA_DIR"):
        path = Path(os.environ["HALLQ_DATA_DIR"])
    elif hasattr(os, "geteuid") and os.geteuid() == 0:
        path = Path("/var/lib/hallq") / site
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        path = base / "hallq" / site
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def config_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The hall config: ``--config``, else ``$HALLQ_CONFIG``, else the sample city hall."""
    return Path(override or os.environ.get("HALLQ_CONFIG") or DEFAULT_CONFIG)


DEVICE_KEY_FILE_ENV = "HALLQ_DEVICE_KEY_FILE"


def device_key_from_env_file() -> str | None:
    """The device key a service manager hands a kiosk or gateway as a file, or None when none is handed over.

    ``$HALLQ_DEVICE_KEY_FILE`` names the file (systemd: ``LoadCredential=device-key:…`` with
    ``Environment=HALLQ_DEVICE_KEY_FILE=%d/device-key``); it wins over the key the config names, so the
    key file itself can stay root's (0600). Raises :class:`OSError` when the file cannot be read.
    """
    path = os.environ.get(DEVICE_KEY_FILE_ENV, "")
    if not path:
        return None
    return Path(path).read_text(encoding="utf-8").strip()


def load_secret(directory: Path) -> bytes:
    """The installation's 32-byte secret (keyed hashes of ID numbers; the keys that seal the bad-review call-back
    phones and the phones results are mailed to), made on first use.

    Losing it restarts today's "one open ticket per person" checks and leaves those sealed phones unreadable
    (the masks stay); keep it with the hall's backups, and out of backups that leave the hall.
    """
    path = directory / "secret.key"
    if not path.exists():
        # write aside, then link into place: atomic, and if two processes race
        # the loser's link fails and both read the winner's key below
        tmp = directory / f".secret.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    data = path.read_bytes()
    if len(data) < 32:
        raise RuntimeError(f"{path} is damaged (shorter than 32 bytes): restore it from a backup or delete it")
    return data[:32]
