"""bcrypt hashes of the county broker's passwords, for its nats.conf (county/broker.py).

NATS takes a user's ``password`` in its configuration as a bcrypt hash (``$2a$<cost>$...``; nats-server 2.9
accepts ``$2a$``, ``$2b$``, ``$2x$`` and ``$2y$``, hallq writes ``$2a$``, the prefix NATS documents) and compares
a client's clear password against it, the MQTT listener's clients included. So nats.conf names no clear password
(等保 2.0 身份鉴别: 鉴别信息 stored protected): a backup, a support bundle or a misplaced copy of it gives no
hall's password away. The clear passwords stay where a client needs them: each hall's ``halls/<site>.secret``
(the bridge's ``county-bridge.secret`` is made from it) and the platform's ``[broker] password`` reference.

The cost (:data:`BCRYPT_COST`, 10) is paid by NATS at every connect and by hallq at every hash: measured on the
2-core test machine, an MQTT CONNECT takes 54 ms at cost 10 (1 ms in clear, 14 ms at 8, 106 ms at 11, 212 ms at
12), so 50 halls reconnecting after a broker restart cost NATS about 2.7 s of one core; hashing one password in
Python takes 57 ms. docs/county.md, "Broker passwords", has the figures.

Re-hashing every hall at every start would cost 50 × 57 ms ≈ 2.9 s with 50 halls, and checking a stored hash
with bcrypt costs as much as making a new one. So each hash is stored beside its clear password
(``halls/<site>.bcrypt``, ``platform.bcrypt``; 0600) with an HMAC-SHA256 of the password under a random key of
the broker folder (``bcrypt.key``, 0600): the hash is reused while the HMAC matches (microseconds) and made anew
when the password changed, the key is missing or the cost changed. The HMAC is keyed so that a hash file copied
without the key gives nothing faster to guess against than bcrypt itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

import bcrypt

from hallq.mqtt_auth import write_private

BCRYPT_COST = 10        # NATS compares at every connect: 54 ms each here (module docstring)
BCRYPT_MAX_BYTES = 72   # bcrypt reads no further: NATS 2.9 would accept any password sharing the first 72 bytes
_BCRYPT = re.compile(r"^\$2a\$(\d\d)\$[./A-Za-z0-9]{53}$")


class BrokerHashError(ValueError):
    pass


def is_bcrypt(value: str, cost: int | None = None) -> bool:
    """``value`` is a bcrypt hash as hallq writes it (``$2a$``), of ``cost`` when given."""
    m = _BCRYPT.match(value)
    return m is not None and (cost is None or int(m.group(1)) == cost)


def bcrypt_hash(password: str, cost: int = BCRYPT_COST, what: str = "a broker password") -> str:
    """A new ``$2a$`` bcrypt hash of ``password``."""
    data = password.encode("utf-8")
    if not data:
        raise BrokerHashError(f"{what} is empty")
    if len(data) > BCRYPT_MAX_BYTES:
        raise BrokerHashError(f"{what} is {len(data)} bytes long: bcrypt (and so NATS) checks only the first "
                              f"{BCRYPT_MAX_BYTES}; use a shorter one (a random 32-character one is plenty)")
    return bcrypt.hashpw(data, bcrypt.gensalt(cost, prefix=b"2a")).decode("ascii")


class HashStore:
    """Stored hashes in the broker folder, reused while the password they were made from is unchanged."""

    def __init__(self, folder: Path, cost: int = BCRYPT_COST) -> None:
        self.folder = Path(folder)
        self.cost = cost
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            path = self.folder / "bcrypt.key"
            try:
                self._key = bytes.fromhex(path.read_text(encoding="utf-8").strip())
            except (OSError, ValueError):
                self._key = b""
            if len(self._key) < 32:  # missing or damaged: a new key, so every stored hash is made anew once
                self._key = secrets.token_bytes(32)
                write_private(path, self._key.hex() + "\n")
        return self._key

    def _check(self, password: str) -> str:
        return hmac.new(self.key(), password.encode("utf-8"), hashlib.sha256).hexdigest()

    def hash_for(self, password: str, path: Path, what: str = "a broker password") -> str:
        """The bcrypt hash of ``password``: the one stored in ``path`` if it was made from it, else a new one
        (stored there, 0600, for the next start)."""
        check = self._check(password)
        try:
            version, stored_check, hashed = Path(path).read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError, ValueError):
            pass
        else:
            if version == "v1" and hmac.compare_digest(stored_check, check) and is_bcrypt(hashed, self.cost):
                return hashed
        hashed = bcrypt_hash(password, self.cost, what)
        write_private(Path(path), f"v1 {check} {hashed}\n")
        return hashed
