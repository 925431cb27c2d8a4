"""The numbered schema files of a database, as both migration runners read them: the hall's SQLite
(queue_server/migrations.py) and the county's PostgreSQL (county/db.py).

Only the listing is shared: how the pending files are applied differs in what matters (SQLite's write lock
and Python steps, PostgreSQL's advisory lock), so each runner keeps its own.
"""

from __future__ import annotations

import re
from pathlib import Path


def numbered_files(directory: Path, name: re.Pattern[str]) -> list[Path]:
    """The files of ``directory`` whose names match ``name`` (``NNN_what.sql`` ...), in order of their numbers;
    two files with one number are refused (which would run first is then anybody's guess)."""
    files = sorted(p for p in directory.iterdir() if name.fullmatch(p.name))
    numbers = [p.name[:3] for p in files]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two schema files share a number in {directory}: {numbers}")
    return files
