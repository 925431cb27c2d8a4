"""``hallq platform``: the county platform, its broker, and each hall's bridge to it (docs/county.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(add) -> None:
    p = add("platform", lambda args: _usage(p), "the county platform: halls of four levels connected",
            "hallq platform serve --config /etc/hallq/county/county.toml --port 8090")
    sub = p.add_subparsers(dest="platform_command", metavar="ACTION")

    def action(name: str, fn, help_: str):
        sp = sub.add_parser(name, help=help_, description=fn.__doc__)
        sp.set_defaults(func=fn)
        sp.add_argument("--config", required=True, help="the county config (see config/county/county.toml)")
        return sp

    s = action("serve", cmd_serve, "run the platform: ingestion, catch-up and its HTTP API")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8090, help="port to listen on (default 8090)")
    s.add_argument("--workers", type=int, default=1, help="worker processes (one of them ingests; default 1)")
    s.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    s.add_argument("--database", help="PostgreSQL URL, instead of county.toml's [database]")
    m = action("migrate", cmd_migrate, "bring the county database to this release's schema and sync the registry")
    m.add_argument("--database", help="PostgreSQL URL, instead of county.toml's [database]")
    b = action("broker", cmd_broker, "run the county's broker (NATS with MQTT) in the foreground")
    b.add_argument("--data-dir", required=True, help="where the broker keeps its configuration, secrets and "
                   "JetStream store")
    b.add_argument("--listen", default="0.0.0.0:8883", help="host:port of the MQTT listener (default 0.0.0.0:8883)")
    b.add_argument("--name", default="county-1", help="this node's name (unique in a cluster)")
    b.add_argument("--tls-cert", default="", help="certificate for MQTT over TLS (with --tls-key)")
    b.add_argument("--tls-key", default="")
    b.add_argument("--cluster-name", help="join a NATS cluster of this name (docs/county.md, 'Clustering')")
    b.add_argument("--cluster-listen", default="0.0.0.0:6222", help="this node's route listener")
    b.add_argument("--route", action="append", default=[], help="nats-route://host:port of another node (repeat)")
    pv = action("provincial", cmd_provincial, "hand ratings and completed applications to the province "
                "(files per day and a push; docs/provincial.md)")
    pv.add_argument("--database", help="PostgreSQL URL, instead of county.toml's [database]")
    pv.add_argument("--once", action="store_true", help="export, write the files and push what is due, then exit")
    g = action("bridge-config", cmd_bridge_config, "write a hall's county-bridge.toml and its secret")
    g.add_argument("--data-dir", required=True, help="the broker's data dir (where the halls' secrets are)")
    g.add_argument("--site", required=True, help="the hall, as in [[halls]] site")
    g.add_argument("--address", required=True, help="host:port of the county broker as the hall reaches it")
    g.add_argument("--tls", action="store_true", help="the county broker speaks MQTT over TLS")
    g.add_argument("--cafile", default="", help="the CA of the county broker's certificate, on the hall's machine")
    g.add_argument("--platform-url", default="", help="the platform's URL as the hall reaches it: adds [platform] "
                   "(就近办, nearby halls' waits) and county-platform.key, the county's key for the hall")
    g.add_argument("--out", required=True, help="folder to write into (then copy the files beside hall.toml)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _config(args):
    from county.config import CountyConfigError, load_county

    try:
        return load_county(args.config, database_url=getattr(args, "database", None),
                           need_database=args.func in (cmd_serve, cmd_migrate, cmd_provincial))
    except CountyConfigError as e:
        raise SystemExit(f"hallq platform: {e}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the county platform: migrate its database, sync the registry from county.toml, then serve the API
    and ingest the halls' journal events (live from the county broker, gaps from each hall's journal)."""
    from county.config import CountyConfigError
    from county.db import NewerSchema
    from county.wsgi import serve

    try:
        serve(args.config, args.host, args.port, args.workers, args.threads, args.database)
    except (CountyConfigError, NewerSchema) as e:
        print(f"hallq platform: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the pending migrations (one transaction) and write the registry and accounts of county.toml."""
    from county.config import CountyConfigError
    from county.db import NewerSchema
    from county.wsgi import prepare

    try:
        prepare(args.config, args.database)
    except (CountyConfigError, NewerSchema) as e:
        print(f"hallq platform: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    """Run nats-server for the county, configured from county.toml: the MQTT listener, JetStream, one account per
    hall (publishing only its own journal) and the platform's account."""
    import signal

    from county.broker import BrokerSettings, Cluster, CountyBroker, CountyBrokerError

    cfg = _config(args)
    cluster = Cluster(args.cluster_name, args.cluster_listen, tuple(args.route)) if args.cluster_name else None
    broker = CountyBroker(cfg, BrokerSettings(folder=Path(args.data_dir) / "broker", mqtt_listen=args.listen,
                                              server_name=args.name, tls_cert=args.tls_cert, tls_key=args.tls_key,
                                              cluster=cluster))
    try:
        broker.start()
    except CountyBrokerError as e:
        print(f"hallq platform broker: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *a: broker.stop())
    try:
        return broker.wait()
    except KeyboardInterrupt:
        broker.stop()
        return 0


def cmd_bridge_config(args: argparse.Namespace) -> int:
    """Write county-bridge.toml and county-bridge.secret for one hall: copy both beside its hall.toml, and its
    own broker bridges its journal to the county (hallq/bridge.py)."""
    from county.broker import CountyBrokerError, bridge_files

    cfg = _config(args)
    try:
        path = bridge_files(cfg, Path(args.data_dir) / "broker", args.site, args.address, Path(args.out),
                            tls=args.tls, cafile=args.cafile, platform_url=args.platform_url)
    except CountyBrokerError as e:
        print(f"hallq platform bridge-config: {e}", file=sys.stderr)
        return 2
    also = " and county-platform.key" if args.platform_url else ""
    print(f"wrote {path} and {path.parent / 'county-bridge.secret'}{also} (0600): copy them beside hall {args.site}'s "
          "hall.toml; restart its server (or broker), and run hallq platform broker again so it knows the account")
    return 0


def cmd_provincial(args: argparse.Namespace) -> int:
    """Run the provincial hand-off of county.toml's [provincial] (docs/provincial.md) without the platform's API:
    ratings and completed applications as daily JSON Lines/CSV files and pushed to the endpoint, exactly once.
    Only one process per county does it (the platform's own, when it runs, or this one)."""
    import signal

    from county import db as county_db
    from county.provincial import PROVINCIAL_LOCK, Handoff

    cfg = _config(args)
    if cfg.provincial is None:
        print(f"hallq platform provincial: {cfg.path} has no [provincial] section (files_dir, endpoint...): "
              "see docs/provincial.md", file=sys.stderr)
        return 2
    handoff = Handoff(cfg)
    if args.once:
        with county_db.connect(cfg.database_url, autocommit=True) as conn:
            if not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (PROVINCIAL_LOCK,)).fetchone()["ok"]:
                print("hallq platform provincial: another process is doing this county's hand-off", file=sys.stderr)
                return 1
            wait = handoff.run_once(conn)
        print(f"pushed {handoff.pushed} batch(es), {handoff.failures} failure(s)"
              + ("" if wait is None else f"; batches still waiting (next try in {wait:.0f} s)"))
        return 0
    handoff.start()
    signal.signal(signal.SIGTERM, lambda *a: handoff._stop.set())
    try:
        while not handoff._stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    handoff.stop()
    return 0
