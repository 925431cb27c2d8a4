"""Online backups of a hall's database and their restore (``hallq backup``, ``hallq restore``).

**Backup.** SQLite's backup API copies the live database, page by page, while the server runs.
The source connection first opens a read transaction and keeps it for the whole copy: in WAL
mode a reader never blocks the writers (tickets go on being issued), and the copy is exactly the
database as it was at that instant, with every ticket acknowledged before it. (Without that
snapshot, SQLite restarts a stepped backup whenever another connection writes between two steps,
which in a busy hall could be for ever.) The copy is made in steps of :data:`PAGES_PER_STEP`
pages, so a progress callback runs between them, into a temporary file beside the target; it is
checked (``PRAGMA integrity_check``), made a self-contained single file (rollback journal, no
``-wal``), synced, and only then renamed into place: a target is either the previous file or a
complete backup, never half of one.

**What a backup says about itself** is inside the copy, not in a sidecar file that could be
separated from it: the site and the schema are the copy's own ``meta.site`` and ``_migrations``
(facts ``hallq restore`` checks, not claims about them), and a table ``_backup`` holds one row
with the site, the schema (the highest applied migration), the hallq version, the time taken and
the database it came from. ``hallq restore`` drops that table from what it puts in place.

**Restore** refuses while a server runs on the data directory (:mod:`queue_server.server_lock`),
a backup from another site, or one whose schema has migrations this release does not know (a
newer release's). Otherwise the current database is kept aside under a new name (never deleted)
and the backup is renamed into place; the server applies any newer migrations at its next start.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hallq import __version__
from queue_server.migrations import migration_files
from queue_server.server_lock import ServerLock

DB_NAME = "hallq.sqlite3"
PAGES_PER_STEP = 4096  # 16 MiB with 4 KiB pages


class BackupRefused(RuntimeError):
    """A backup or restore that was not done; the message says the cause and the fix, in one sentence."""


@dataclass(frozen=True)
class BackupInfo:
    site: str
    schema: str  # the highest applied migration, e.g. "014_sign_in"
    hallq_version: str
    taken_at: str  # ISO 8601, UTC
    source: str
    tickets: int


def _schema(conn: sqlite3.Connection) -> list[str]:
    return [name for (name,) in conn.execute("SELECT name FROM _migrations ORDER BY name")]


def _site(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
    return row[0] if row else None


def _fsync(path: Path) -> None:
    """A file's bytes, or a folder's entries (a rename into it), on the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _StepFlush:
    """fsync the copy between backup steps.

    Left to the kernel, a backup of a year's database piles up a gigabyte of dirty pages that are written out
    at once; a ticket's COMMIT, which fsyncs the live WAL on the same disk, then waits behind them (measured:
    issue p99 several times its usual). Flushing each 16 MiB step keeps that queue short; a step's pages are
    written once either way, so the backup costs no more I/O."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __call__(self) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY)
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def backup(data_dir: str | os.PathLike[str], target: str | os.PathLike[str], site: str,
           progress: Callable[[int, int], None] | None = None) -> BackupInfo:
    """Copy the hall's live database to ``target`` (atomically); return what the backup holds.

    ``site`` is the config's, used if the database has not recorded one yet.
    ``progress(remaining, total)`` is called between steps (pages).
    """
    source = Path(data_dir) / DB_NAME
    target = Path(target)
    if not source.is_file():
        raise BackupRefused(f"there is no database at {source}: give the hall's --config or --data-dir, "
                            "or start the server once so it creates it")
    if target.resolve() == source.resolve():
        raise BackupRefused(f"{target} is the live database itself: choose another file with --to")
    folder = target.parent
    if not folder.is_dir():
        raise BackupRefused(f"the folder {folder} does not exist: create it or choose another --to")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupRefused(f"the folder {folder} is not writable by this user: fix its permissions "
                            "or choose another --to")
    tmp = folder / f".{target.name}.{os.getpid()}.partial"
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    try:
        try:
            dst = sqlite3.connect(tmp, isolation_level=None)
        except sqlite3.OperationalError as e:
            raise BackupRefused(f"cannot write {tmp} ({e}): free space or fix permissions in {folder}") from e
        try:
            src.execute("BEGIN")  # one read snapshot for the whole copy; writers go on (WAL)
            schema = _schema(src)
            tickets = src.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
            site = _site(src) or site
            flush = _StepFlush(tmp)
            try:
                def step(status: int, remaining: int, total: int) -> None:
                    flush()  # the copy goes to disk step by step, not as a gigabyte of dirty pages at the end
                    if progress:
                        progress(remaining, total)

                src.backup(dst, pages=PAGES_PER_STEP, progress=step)
            finally:
                flush.close()
            src.execute("COMMIT")
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            info = BackupInfo(site=site, schema=schema[-1] if schema else "", hallq_version=__version__,
                              taken_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              source=str(source), tickets=tickets)
            dst.execute("DROP TABLE IF EXISTS _backup")
            dst.execute("CREATE TABLE _backup (site TEXT NOT NULL, schema TEXT NOT NULL, hallq_version TEXT NOT NULL, "
                        "taken_at TEXT NOT NULL, source TEXT NOT NULL, tickets INTEGER NOT NULL)")
            dst.execute("INSERT INTO _backup VALUES (?, ?, ?, ?, ?, ?)",
                        (info.site, info.schema, info.hallq_version, info.taken_at, info.source, info.tickets))
            check = dst.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise BackupRefused(f"the copy failed SQLite's integrity check ({check[:3]}): "
                                    f"check the database with sqlite3 {source} 'PRAGMA integrity_check'")
        finally:
            dst.close()
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(folder)
        return info
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        src.close()


def read_backup(path: str | os.PathLike[str]) -> BackupInfo:
    """What a backup file holds (its own site and schema), after checking it is a whole hallq database."""
    path = Path(path)
    if not path.is_file():
        raise BackupRefused(f"there is no backup at {path}: give the file hallq backup wrote with --from")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise BackupRefused(f"{path} fails SQLite's integrity check ({check[:3]}): use another backup")
            schema = _schema(conn)
            site = _site(conn)
            tickets = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
            row = conn.execute("SELECT hallq_version, taken_at, source FROM _backup").fetchone() \
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_backup'").fetchone() else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise BackupRefused(f"{path} is not a hallq database ({e}): give a file hallq backup wrote") from e
    if site is None or not schema:
        raise BackupRefused(f"{path} has no hall in it (no site, no schema): give a file hallq backup wrote")
    version, taken_at, source = row if row else ("unknown", "unknown", "unknown")
    return BackupInfo(site=site, schema=schema[-1], hallq_version=version, taken_at=taken_at, source=source,
                      tickets=tickets)


@dataclass(frozen=True)
class Restored:
    backup: BackupInfo
    database: Path
    kept_aside: Path | None  # the database that was replaced, renamed


def restore(data_dir: str | os.PathLike[str], source: str | os.PathLike[str], site: str) -> Restored:
    """Put the backup ``source`` in place as the hall's database, keeping the current one aside."""
    ddir = Path(data_dir)
    info = read_backup(source)
    if info.site != site:
        raise BackupRefused(f"{source} is a backup of site {info.site!r}, not of this hall ({site!r}): "
                            "restore it with that hall's --config, or choose this hall's backup")
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        applied = _schema(conn)
    finally:
        conn.close()
    known = {p.stem for p in migration_files()}
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise BackupRefused(f"{source} has schema migrations this release of hallq ({__version__}) does not know "
                            f"({', '.join(unknown)}): restore it with the release that wrote it "
                            f"(hallq {info.hallq_version}) or a newer one")
    lock = ServerLock(ddir)
    if not lock.try_exclusive():
        raise BackupRefused(f"a hallq server is running on {ddir}: stop it (systemctl stop hallq-server) "
                            "and run hallq restore again")
    try:
        return _swap(ddir, Path(source), info)
    finally:
        lock.release()


def _swap(ddir: Path, source: Path, info: BackupInfo) -> Restored:
    live = ddir / DB_NAME
    tmp = ddir / f".{DB_NAME}.restoring"
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.backup(dst)
            dst.execute("DROP TABLE IF EXISTS _backup")
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
        _fsync(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        src.close()
    aside = None
    if live.exists():
        # fold the WAL into the file (nobody else has it open: we hold the server lock), so the
        # database kept aside is whole and no stale -wal is left beside the restored one
        conn = sqlite3.connect(live, isolation_level=None)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        wal = ddir / f"{DB_NAME}-wal"
        if busy or (wal.exists() and wal.stat().st_size > 0):
            tmp.unlink()
            raise BackupRefused(f"{live} is still open in another program (its WAL could not be folded in): "
                                "close it (an sqlite3 shell?) and run hallq restore again")
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = ddir / f"{DB_NAME}.before-restore-{stamp}"
        n = 1
        while aside.exists():  # two restores in one second
            n += 1
            aside = ddir / f"{DB_NAME}.before-restore-{stamp}-{n}"
        os.link(live, aside)  # the current database stays reachable under its new name
        for extra in (wal, ddir / f"{DB_NAME}-shm"):
            with contextlib.suppress(FileNotFoundError):
                extra.unlink()
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # restored by root: the server's user must own it
        owner = ddir.stat()
        os.chown(tmp, owner.st_uid, owner.st_gid)
    os.replace(tmp, live)
    _fsync(ddir)
    return Restored(backup=info, database=live, kept_aside=aside)
