"""Checking sign-in passwords without taking the CPU from the windows.

An argon2id check (64 MiB, 3 passes) is deliberately expensive: ~175 ms of one core on the
reference machine. argon2-cffi would spread it over as many threads as the hash has lanes (4),
which on a two-core hall server is both cores; a flood of sign-ins would then slow every call.
So here a check:

* runs on one thread of its own (:func:`verify` computes the lanes one after the other: the
  same result, less CPU in total), at the lowest CPU priority (nice 19), so the scheduler hands
  the core to a window's request whenever both want it;
* after a wrong password, rests twice as long as the check took, so a stream of wrong ones
  (a flood) keeps at most a third of a core busy; a right password costs no rest, and a sign-in
  in a calm hall never waits;
* is admitted by :func:`one_check`: one check per client address at a time and
  ``MAX_SIGNING_IN`` sign-ins in the process (checked or waiting); any other is answered at once
  with 503 ``sign_in_busy`` and ``Retry-After: 1``, because a waiting request holds one of the
  server's threads, which the windows need.

``bench/bench_login_flood.py`` measures call-next while sign-ins are flooded.
"""

from __future__ import annotations

import base64
import functools
import hmac
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type, core, ffi

from queue_server.domain.errors import DomainError

CONCURRENT_CHECKS = 1
MAX_SIGNING_IN = 3  # sign-ins being checked or waiting for the slot; more are refused at once (503)
CHECK_WAIT_SECONDS = 1.0  # a sign-in waits this long for the slot, then 503 sign_in_busy
REST_FACTOR = 2.0  # after a wrong password the checker rests twice as long as the check took
_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}

_hasher = PasswordHasher()

_slots = threading.BoundedSemaphore(CONCURRENT_CHECKS)
_signing_in: set[str] = set()
_signing_in_lock = threading.Lock()
_checker: ThreadPoolExecutor | None = None
_checker_lock = threading.Lock()
_rest_until = 0.0  # monotonic time before which the checker starts no new check


class SignInBusy(DomainError):
    status = 503
    code = "sign_in_busy"


def check(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (None: an unknown account, checked all the same).

    Runs on the checker thread (nice 19, one lane at a time, resting after); call it inside
    :func:`one_check`.
    """
    return _in_background(verify, password_hash or _nobody(), password) and password_hash is not None


@functools.cache
def _nobody() -> str:
    """What an unknown job number is checked against, so that it takes as long as a known one."""
    return _hasher.hash("no such account")


def verify(encoded: str, password: str) -> bool:
    """An argon2 check of an encoded hash, computing its lanes on this thread only."""
    try:
        _, kind, version, params, salt_b64, digest_b64 = encoded.split("$")
        p = dict(x.split("=", 1) for x in params.split(","))
        salt, expected = _b64(salt_b64), _b64(digest_b64)
        kind_value = _TYPES[kind].value
        t_cost, m_cost, lanes, v = int(p["t"]), int(p["m"]), int(p["p"]), int(version.removeprefix("v="))
    except (ValueError, KeyError):
        return _verify_as_argon2_cffi_does(encoded, password)
    secret = password.encode()
    out = ffi.new("uint8_t[]", len(expected))
    c_secret, c_salt = ffi.new("uint8_t[]", secret), ffi.new("uint8_t[]", salt)
    ctx = ffi.new("argon2_context *", dict(
        version=v, out=out, outlen=len(expected), pwd=c_secret, pwdlen=len(secret), salt=c_salt,
        saltlen=len(salt), secret=ffi.NULL, secretlen=0, ad=ffi.NULL, adlen=0, t_cost=t_cost, m_cost=m_cost,
        lanes=lanes, threads=1, allocate_cbk=ffi.NULL, free_cbk=ffi.NULL, flags=0))
    if core(ctx, kind_value) != 0:
        return False
    return hmac.compare_digest(bytes(ffi.buffer(out, len(expected))), expected)


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _verify_as_argon2_cffi_does(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


@contextmanager
def one_check(client: str):
    """Admit a sign-in from ``client``: one per client at a time, ``MAX_SIGNING_IN`` in the process.

    Raises :class:`SignInBusy` at once when this client already has one in progress or too many
    are, and after ``CHECK_WAIT_SECONDS`` without the check slot.
    """
    with _signing_in_lock:
        if client in _signing_in or len(_signing_in) >= MAX_SIGNING_IN:
            raise _busy()
        _signing_in.add(client)
    try:
        if not _slots.acquire(timeout=CHECK_WAIT_SECONDS):
            raise _busy()
        try:
            yield
        finally:
            _slots.release()
    finally:
        with _signing_in_lock:
            _signing_in.discard(client)


def _busy() -> SignInBusy:
    return SignInBusy("error.sign_in_busy", detail={"retry_after_seconds": 1})


def _in_background(fn, *args):
    global _checker
    with _checker_lock:
        if _checker is None:  # made in the process that serves (a Granian worker), not before a fork
            _checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hallq-argon2",
                                          initializer=_lowest_priority)
    return _checker.submit(_paced, fn, *args).result()


def _paced(fn, *args):
    global _rest_until
    rest = _rest_until - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    started = time.monotonic()
    good = False
    try:
        good = fn(*args)
        return good
    finally:
        if not good:
            ended = time.monotonic()
            _rest_until = ended + REST_FACTOR * (ended - started)


def _lowest_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # Linux: this thread only
    except (AttributeError, OSError):
        pass
