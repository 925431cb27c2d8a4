"""docs/deployment.md cannot rot: every ``hallq`` command in its shell blocks is one today's command accepts.

Each command line (continuations joined, comments dropped) is parsed by the real ``hallq`` parser:
a renamed subcommand or option, or a missing required one, fails here. The commands themselves are
run by the tests of each part (hallq init: test_init.py; the units: test_services.py; backup and
restore: test_backup.py; status: test_status.py; the offline install: test_offline_install.py).
"""

from __future__ import annotations

import re
import shlex

import pytest

from hallq.testing import ROOT
from launcher.cli import build_parser

DOCS = ["docs/deployment.md", "README.md", "docs/county.md"]


def shell_blocks(text: str) -> list[str]:
    blocks, inside, lang, buf = [], False, "", []
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                if lang in ("", "bash", "sh", "console", "shell"):
                    blocks.append("\n".join(buf))
                inside, buf = False, []
            else:
                inside, lang = True, line[3:].strip()
            continue
        if inside:
            buf.append(line)
    return blocks


def hallq_commands(path: str) -> list[str]:
    out = []
    for block in shell_blocks((ROOT / path).read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            # the command word: at the start, after sudo [-u user] or an env assignment, or a venv's bin/hallq
            m = re.match(r"(?:sudo\s+(?:-u\s+\S+\s+)?)?(?:[A-Z_]+=\S+\s+)*(?:\S*bin/)?hallq\s+(-{0,2}[a-z].*)$", line)
            if m and not re.search(r"[│┌└─]", line):
                out.append(m.group(1))
    return out


COMMANDS = [(path, cmd) for path in DOCS for cmd in hallq_commands(path)]


def test_the_deployment_guide_shows_the_commands_of_a_whole_install():
    used = {cmd.split()[0] for path, cmd in COMMANDS if path == "docs/deployment.md"}
    assert {"init", "check-config", "services", "backup", "restore", "status", "tls"} <= used, used


@pytest.mark.parametrize("path,command", COMMANDS, ids=[f"{p}:{c[:40]}" for p, c in COMMANDS])
def test_every_hallq_command_in_the_docs_is_accepted_by_the_parser(path, command):
    argv = shlex.split(command.replace("$(date +%F)", "2026-11-23").replace("$(date +\\%F)", "2026-11-23"))
    argv = [a for a in argv if a not in ("…", "...")]
    try:
        build_parser().parse_args(argv)
    except SystemExit as e:
        if e.code:
            pytest.fail(f"{path}: `hallq {command}` is not a command hallq accepts today (exit {e.code})")
