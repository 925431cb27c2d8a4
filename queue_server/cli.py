"""``hallq backup`` and ``hallq restore``: the hall's database, copied while it runs and put back.

See :mod:`queue_server.backup` for how, and docs/deployment.md ("Backups") for when.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(add) -> None:
    p = add("backup", cmd_backup, "copy the hall's database while it runs (online, consistent)",
            "hallq backup --config /etc/hallq/my-hall/hall.toml --to /var/backups/hallq/my-hall-$(date +%F).sqlite3")
    p.add_argument("--config", help="hall config file (default: $HALLQ_CONFIG or the sample city hall)")
    p.add_argument("--data-dir", help="override $HALLQ_DATA_DIR")
    p.add_argument("--to", required=True, metavar="FILE", help="the backup file (replaced only once complete)")
    p = add("restore", cmd_restore, "put a backup in place as the hall's database (the server stopped)",
            "hallq restore --config /etc/hallq/my-hall/hall.toml --from /var/backups/hallq/my-hall-2026-11-23.sqlite3")
    p.add_argument("--config", help="hall config file (default: $HALLQ_CONFIG or the sample city hall)")
    p.add_argument("--data-dir", help="override $HALLQ_DATA_DIR")
    p.add_argument("--from", required=True, dest="source", metavar="FILE", help="a file hallq backup wrote")


def _hall(args: argparse.Namespace):
    from hallq import settings
    from hallq.hallconfig import ConfigError, load_hall

    try:
        cfg = load_hall(settings.config_path(args.config))
    except ConfigError as e:
        raise SystemExit(f"hallq: the hall configuration has problems:\n{e}") from None
    return cfg, settings.data_dir(cfg.site, args.data_dir)


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the hall's database to a file with SQLite's backup API, while the server runs and issues tickets.

    The copy is one consistent instant of the database, checked, and renamed into place only when
    complete. It records the site, the schema, the hallq version and the time in a table _backup.
    It runs at a lower CPU priority (nice 10): on a small server the hall's requests come first.
    """
    from queue_server.backup import BackupRefused, backup

    os.nice(10)  # maintenance: the server's workers win the CPU while the copy and its check run
    cfg, ddir = _hall(args)
    try:
        info = backup(ddir, args.to, cfg.site)
    except BackupRefused as e:
        print(f"hallq backup: {e}", file=sys.stderr)
        return 2
    print(f"{args.to}: site {info.site}, schema {info.schema}, {info.tickets} tickets, "
          f"taken {info.taken_at} (hallq {info.hallq_version})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a backup in place as the hall's database; the current one is kept aside, renamed.

    Refused while a server runs on the data directory, for another site's backup, and for a
    backup whose schema is newer than this release knows.
    """
    from queue_server.backup import BackupRefused, restore

    cfg, ddir = _hall(args)
    try:
        done = restore(ddir, args.source, cfg.site)
    except BackupRefused as e:
        print(f"hallq restore: {e}", file=sys.stderr)
        return 2
    b = done.backup
    print(f"{done.database}: restored from {args.source} (site {b.site}, schema {b.schema}, {b.tickets} tickets, "
          f"taken {b.taken_at})")
    if done.kept_aside is not None:
        print(f"the previous database is kept at {done.kept_aside}")
    return 0
