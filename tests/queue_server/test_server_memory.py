"""What an idle ``hallq serve`` holds (issue 16: idle RSS of Granian's master and worker ≤ 80 MB).

Two things made it ~20 MB heavier and must not come back:

* cryptography (its OpenSSL bindings, ~11 MB resident in a worker) loaded at start by the sealing code
  (queue_server/domain/contacts.py, routing.py, migration 024), though a hall may seal nothing all day: it is
  imported at the first seal;
* the supervising process keeping everything the preparation imported (the command's parser, the config
  machinery, the migrations): Granian forks its workers from it, so each worker carried those pages too.
  ``hallq serve`` now execs ``python -m queue_server.wsgi`` once the database and the broker are ready.

The checks read the running processes' mapped files (``/proc/<pid>/maps``): an extension module imported is a
shared object mapped, so they see what the processes really loaded, whatever imported it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import own_broker_hall

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_an_idle_server_loads_no_cryptography_and_its_supervisor_only_granian(tmp_path, server_proc):
    config, _ = own_broker_hall(tmp_path)
    server = server_proc(config=config, broker="hall")  # returns once /api/v1/health answers (a worker is up)
    assert server.proc is not None
    master = server.proc.pid
    workers = [p for p in _children(master) if _comm(p) != "mosquitto"]
    brokers = [p for p in _children(master) if _comm(p) == "mosquitto"]
    assert workers and brokers, "hallq serve runs its worker and the hall's own broker as its children"

    argv = Path(f"/proc/{master}/cmdline").read_bytes().split(b"\0")
    assert argv[1:3] == [b"-m", b"queue_server.wsgi"], "the supervisor is the fresh Python serve() execs"
    for pid in (master, *workers):
        assert "cryptography" not in _maps(pid), f"process {pid} loaded cryptography at start"
    assert "_sqlite3" in _maps(workers[0])  # the check sees an extension module once something imported it
    assert "_sqlite3" not in _maps(master), "the supervisor kept the migrations' modules (no exec?)"

    server.stop()  # after the exec, the broker started before it is still stopped with the server
    assert not any(Path(f"/proc/{b}").exists() for b in brokers)


def test_the_sealing_code_imports_cryptography_at_its_first_seal():
    code = (
        "import sys\n"
        "import queue_server.app, queue_server.domain.contacts as c, queue_server.domain.routing as r\n"
        "from queue_server.migrations import migrate\n"
        "assert 'cryptography' not in sys.modules, 'imported at start'\n"
        "secret = bytes(32)\n"
        "mail = c.seal_mail_to(secret, 'T-1', {'name': '张三', 'phone': '13800138000'})\n"
        "assert 'cryptography' in sys.modules and mail['phone'] != '13800138000'\n"
        "assert c.unseal_mail_to(secret, 'T-1', __import__('json').dumps(mail))['phone'] == '13800138000'\n"
        "assert r.unseal(secret, 'T-1', r.seal(secret, 'T-1', {'a': 1})) == {'a': 1}\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_stop_asked_for_during_the_exec_still_stops_the_broker(tmp_path):
    """serve() blocks SIGTERM over its exec; the new process stops the broker if the stop came before Granian
    set its own handlers. Played exactly: a stand-in broker child, SIGTERM sent while blocked, then the exec."""
    pid_file = tmp_path / "broker.pid"
    code = (
        "import json, os, signal, subprocess, sys\n"
        "from queue_server import wsgi\n"
        "broker = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(broker.pid))\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, wsgi.STOP_SIGNALS)  # as serve() does before its exec\n"
        "os.kill(os.getpid(), signal.SIGTERM)  # the stop arrives now: pending across the exec\n"
        "settings = {'address': '127.0.0.1', 'port': 1, 'workers': 1, 'blocking_threads': 1,\n"
        "            'log_access': False, 'broker_pid': broker.pid}\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'queue_server.wsgi', json.dumps(settings)])\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    broker = int(pid_file.read_text())
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-2000:]
    assert not Path(f"/proc/{broker}").exists(), "the broker outlived the server stopped during its exec"
