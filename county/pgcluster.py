"""A PostgreSQL cluster of our own, from the Debian binaries: for the tests and a one-machine demo county.

:class:`LocalCluster` runs ``initdb`` into a folder and ``pg_ctl`` on a free TCP port of 127.0.0.1,
with ``trust`` authentication for local connections only (what a test or a demo needs; a real county
uses its own PostgreSQL server with a password, given by ``[database] url``).

PostgreSQL refuses to run as root: as root, the cluster is made and run as the ``postgres`` user
that Debian's package creates (or ``nobody``), through ``runuser``; its folder is given to that user.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger("hallq.county.pg")


class ClusterError(RuntimeError):
    pass


def pg_bin(name: str) -> str:
    """The newest installed PostgreSQL's binary ``name`` (Debian puts them in /usr/lib/postgresql/<n>/bin)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise ClusterError(f"PostgreSQL's {name} is not installed: run ./run.sh setup (or apt-get install postgresql)")


def _reachable_by(folder: Path, user: str) -> bool:
    """Whether ``user`` can walk down to ``folder`` (every existing parent searchable by others or owned)."""
    uid = pwd.getpwnam(user).pw_uid
    for parent in [folder, *folder.parents]:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid != uid and not st.st_mode & 0o001:
            return False
    return True


def _run_as() -> str | None:
    """The user to run PostgreSQL as when we are root (it refuses root), else None."""
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise ClusterError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as")


class LocalCluster:
    """``initdb`` + ``pg_ctl start`` in ``folder`` on 127.0.0.1:``port``; :meth:`stop` ends it."""

    def __init__(self, folder: Path, port: int, user: str = "hallq") -> None:
        self.port = port
        self.user = user
        self.as_user = _run_as()
        self.own_folder = False
        if self.as_user and not _reachable_by(Path(folder), self.as_user):
            # e.g. pytest's /tmp/pytest-of-root (0700): that user could not reach a cluster inside it
            folder, self.own_folder = Path(tempfile.mkdtemp(prefix="hallq-pg-")), True
        self.folder = Path(folder)
        self.data = self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.as_user, "--", *argv] if self.as_user else argv

    def _give(self, path: Path) -> None:
        if self.as_user:
            pw = pwd.getpwnam(self.as_user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._give(self.folder)
        if (self.data / "PG_VERSION").exists():
            return
        out = subprocess.run(self._cmd([pg_bin("initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                                        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                             capture_output=True, text=True, cwd="/")
        if out.returncode:
            raise ClusterError(f"initdb failed ({out.returncode}): {out.stderr.strip()[-1500:]}")

    def start(self, timeout: float = 30.0) -> None:
        self.init()
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
                   "-c fsync=on -c max_connections=100 -c shared_buffers=32MB")
        out = subprocess.run(self._cmd([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"),
                                        "-o", options, "-w", "-t", str(int(timeout)), "start"]),
                             capture_output=True, text=True, cwd="/")
        if out.returncode:
            tail = (self.data / "server.log").read_text(errors="replace")[-1500:] if (self.data / "server.log").exists() else ""
            raise ClusterError(f"pg_ctl start failed ({out.returncode}): {out.stderr.strip()[-800:]}\n{tail}")
        log.info("PostgreSQL cluster in %s listening on 127.0.0.1:%d", self.data, self.port)

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._cmd([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
                           capture_output=True, text=True, cwd="/")
        if self.own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new empty database ``name`` (dropped first if it exists); its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def wait_ready(self, timeout: float = 10.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
