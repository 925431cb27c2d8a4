"""The ``hallq`` command: every part of the hall is one subcommand.

Each subcommand is a thin shell over one library call. ``hallq --help``
lists them with examples; ``hallq <command> --help`` explains each.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from queue_server import SERVE_THREADS

EPILOG = """examples:
  hallq start --demo                            the whole demo hall (server, broker, and the rest)
  hallq init --site my-hall --name 某某便民服务中心 --to /etc/hallq/my-hall   a new hall's config
  hallq serve --config /etc/hallq/my-hall/hall.toml --port 8080
  hallq serve --demo --virtual-clock next-open  the sample hall on a clock starting at the next opening time
  hallq check-config config/village-station/hall.toml
  hallq hash-password                           argon2 hash for a [[staff]] password_hash
  hallq device-key                              a new device key and its key_sha256

environment:
  HALLQ_CONFIG    the hall config (hallq init writes one; in demo mode the default is the sample city hall)
  HALLQ_DATA_DIR  where the database and secret key live
                  (default: /var/lib/hallq/<site> as root, else ~/.local/share/hallq/<site>)
  HALLQ_MQTT_URL  the broker, overriding [mqtt] url, e.g. mqtt://user:pass@127.0.0.1:1883
  HALLQ_DEMO      1: demo mode (--demo), the only way to serve a config with the demo credentials
"""


def _setup_logging(verbose: bool) -> None:
    from hallq import logs

    logs.setup(verbose)  # one format for every part; journald's priorities under systemd


def _load_config(path: str | None):
    from hallq.hallconfig import ConfigError, load_hall
    from hallq.settings import config_path

    try:
        return load_hall(config_path(path))
    except ConfigError as e:
        print(f"hallq: the hall configuration has problems:\n{e}", file=sys.stderr)
        raise SystemExit(2) from None


DEFAULT_PORT = 8080


def server_port(cfg) -> int:
    """Where the hall's server listens unless --port says: the port its ``[hall] public_url`` names, else 8080.

    So each hall's config says where it listens, and two halls (the city hall on 8080, the village station
    on 8081) can run side by side on one machine.
    """
    from urllib.parse import urlsplit

    try:
        return urlsplit(cfg.public_url).port or DEFAULT_PORT
    except ValueError:
        return DEFAULT_PORT


def parse_clock(spec: str | None, cfg):
    """The clock ``--virtual-clock`` asks for (:func:`hallq.clock.clock_from_spec`); a bad one ends the command."""
    from hallq.clock import clock_from_spec

    try:
        return clock_from_spec(spec, cfg)
    except ValueError as e:
        raise SystemExit(f"hallq: {e}") from None


# -- subcommands ------------------------------------------------------------------------

def _refuse_demo_credentials(cfg, args: argparse.Namespace, command: str) -> bool:
    """Outside demo mode, say why a config with the demo credentials cannot be served (and the fix)."""
    from hallq.demo import DEMO_ENV, demo_mode, refusal

    if demo_mode(args.demo):
        os.environ[DEMO_ENV] = "1"  # the workers and the parts of `hallq start` know it too
        return False
    why = refusal(cfg, command)
    if why:
        print(why, file=sys.stderr)
    return why is not None


def _refuse_no_config(args: argparse.Namespace, command: str) -> bool:
    """Without a config named, only demo mode may fall back on the sample hall; else say the way forward."""
    from hallq.demo import DEMO_ENV, demo_mode
    from hallq.settings import config_given

    if config_given(args.config) or demo_mode(args.demo):
        return False
    print(f"hallq {command}: which hall? No config was named (--config FILE or HALLQ_CONFIG).\n"
          f"  A new hall:      hallq init --site my-hall --name 某某便民服务中心 --to /etc/hallq/my-hall\n"
          f"                   then: hallq {command} --config /etc/hallq/my-hall/hall.toml\n"
          f"  The sample hall: hallq {command} --demo (or {DEMO_ENV}=1), with its published demo passwords",
          file=sys.stderr)
    return True


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the queue server (and the hall's own broker, Mosquitto, when no broker URL is configured).

    Without --config (or HALLQ_CONFIG) it refuses, unless demo mode asks for the sample hall; a config with the
    demo credentials is refused unless demo mode is asked for (--demo, HALLQ_DEMO=1).
    """
    if _refuse_no_config(args, "serve"):
        return 2
    cfg = _load_config(args.config)
    if _refuse_demo_credentials(cfg, args, "serve"):
        return 2
    if args.port is None:
        args.port = server_port(cfg)
    clock = parse_clock(args.virtual_clock, cfg)
    if clock.virtual:
        logging.getLogger("hallq").warning("running on a virtual clock starting %s", clock.now().isoformat())
    logging.getLogger("hallq").info("serving %s on http://%s:%d", cfg.site, args.host, args.port)
    from queue_server.wsgi import StartError, serve

    from hallq.broker import BrokerStartError

    try:
        serve(str(cfg.path), args.host, args.port, workers=args.workers, threads=args.threads,
              data_dir=args.data_dir, clock_start=clock.now().isoformat() if clock.virtual else None,
              access_log=args.access_log, tls=args.tls)
    except (BrokerStartError, StartError) as e:
        print(f"hallq: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    """Start the whole hall on one machine: server with broker, and every other part configured.

    With the sample configs (demo credentials) it needs --demo, as ./run.sh start passes.
    """
    if _refuse_no_config(args, "start"):
        return 2
    cfg = _load_config(args.config)
    if _refuse_demo_credentials(cfg, args, "start"):
        return 2
    if args.port is None:
        args.port = server_port(cfg)  # the parts are told this port, the server listens on it
    from launcher.supervisor import start_hall

    return start_hall(args)


def cmd_broker(args: argparse.Namespace) -> int:
    """Run only the hall's own broker (Mosquitto with the hall's identities and ACL), in the foreground."""
    import signal

    from hallq import settings
    from hallq.broker import BrokerStartError, HallBroker

    cfg = _load_config(args.config)
    broker = HallBroker(cfg, settings.data_dir(cfg.site, args.data_dir))
    if args.configure_only:
        conf = broker.configure()
        print(f"Mosquitto configuration: {conf}\npassword file and ACL:   {broker.folder}\n"
              f"identities' secrets:     {broker.store.folder} (0600; give each device its own)")
        return 0
    try:
        broker.start()
    except BrokerStartError as e:
        print(f"hallq: {e}", file=sys.stderr)
        return 2
    print(f"the hall's broker on {broker.url} (identities and ACL in {broker.folder}); Ctrl-C to stop",
          file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *a: broker.stop())
    try:
        broker.wait()
    except KeyboardInterrupt:
        broker.stop()
    return 0


def cmd_tls(args: argparse.Namespace) -> int:
    """Make the hall's own CA and the server's certificate, for HTTPS and MQTT over TLS on the hall LAN.

    Give ca.crt to every device of the hall; ca.key stays on the server machine.
    """
    from hallq import settings, tls

    cfg = _load_config(args.config)
    hosts = [h.strip() for h in (args.hosts or "").split(",") if h.strip()] or None
    files, made = tls.init(settings.data_dir(cfg.site, args.data_dir), cfg.name.get("zh-Hans") or cfg.site, hosts,
                           renew=args.renew)
    print(f"hall CA:            {files.ca}  (copy it to every board, kiosk and gateway machine)")
    print(f"server certificate: {files.cert}  {'(new)' if made else '(kept; --renew makes a new one)'}")
    print(f"  good for: {', '.join(tls.names_in(files.cert))}")
    print(f"private keys (0600): {files.ca_key}, {files.key}")
    return 0


def _broker_text(cfg) -> str:
    from hallq.mqtt import BrokerAddress

    if cfg.mqtt.embedded:
        return f"the hall's own Mosquitto on {cfg.mqtt.embedded_listen} (hallq serve starts it)"
    return str(BrokerAddress.parse(cfg.mqtt.url, cfg.mqtt.username))  # never the password


def cmd_check_config(args: argparse.Namespace) -> int:
    """Load a hall config (or a county.toml) and say what it contains, or list every problem in it."""
    if args.config and _is_county_file(args.config):
        return _check_county(args.config)
    cfg = _load_config(args.config)
    from hallq.i18n import pick

    print(f"{cfg.path}: {pick(cfg.name)} (site {cfg.site}, {cfg.level})")
    print("  businesses: " + ", ".join(f"{b.prefix} {b.code}" for b in cfg.businesses.values()))
    q = cfg.queue
    print(f"  dispatch: {q.dispatch}, at most {q.max_promises_in_a_row} promises in a row before an overdue ticket; "
          "targets (min) green/appointment/ordinary: " + ", ".join(
              f"{b.code} {b.targets.green}/{b.targets.appointment}/{b.targets.ordinary}" for b in cfg.businesses.values()))
    print(f"  windows: {len(cfg.windows)}; service items: {len(cfg.items)}; staff: {len(cfg.staff)}; "
          f"devices: {len(cfg.devices)}")
    print(f"  hours: {', '.join(str(p) for p in cfg.hours.workdays)} on working days")
    if cfg.packages:
        print("  一件事 packages: " + ", ".join(f"{p.code} ({len(p.items)} items, {len(p.form)} fields, "
                                               f"{len(p.materials)} materials)" for p in cfg.packages.values()))
    print(f"  broker: {_broker_text(cfg)}")
    _warn_edited_guides(cfg, getattr(args, "data_dir", None))
    return 0


def _is_county_file(path: str) -> bool:
    import tomllib

    try:
        return "county" in tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False  # the hall loader says what is wrong with it


def _check_county(path: str) -> int:
    """A county.toml: the registry, its accounts, and the items each hall routes (refused: an unknown target)."""
    from county.config import CountyConfigError, load_county
    from hallq.i18n import pick

    try:
        cfg = load_county(path, need_database=False)
    except CountyConfigError as e:
        print(f"hallq: the county configuration has problems:\n{e}", file=sys.stderr)
        return 2
    print(f"{cfg.path}: county {pick(cfg.name)} ({cfg.id}): {len(cfg.halls)} halls, {len(cfg.accounts)} accounts")
    for h in cfg.halls.values():
        if h.routes:
            print(f"  {h.site} routes " + ", ".join(f"{item} -> {to}" for item, to in sorted(h.routes.items())))
    return 0


def _warn_edited_guides(cfg, data_dir: str | None) -> None:
    """Say which guides edited in the browser differ from this file: they stay until the file changes."""
    import sqlite3

    from hallq import settings
    from queue_server.domain.guides import edited_apart_from_file

    db = settings.data_dir(cfg.site, data_dir, create=False) / "hallq.sqlite3"
    if not db.exists():
        return
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        codes = edited_apart_from_file(conn, cfg.items)
        conn.close()
    except sqlite3.Error:  # a database from before the guides' versions (schema 022): nothing was edited
        return
    if codes:
        shown = ", ".join(codes[:10]) + (f" and {len(codes) - 10} more" if len(codes) > 10 else "")
        print(f"  warning: {len(codes)} service item(s) edited in the browser differ from this file ({shown}): "
              "the database's version is served until this file changes, then the file's replaces it. "
              "To keep the edits, export services.toml from the manager's guides page (/manager/guides) "
              "and use it as this hall's services file.")


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Print the argon2id hash of a password (read without echo) for a [[staff]] entry."""
    import getpass

    from queue_server.auth import hash_password

    from hallq.passwords import MIN_PASSWORD, password_problem
    from queue_server.domain.errors import messages

    password = os.environ.get("HALLQ_PASSWORD") or getpass.getpass("password: ")
    problem = password_problem(password, args.job_no)
    if problem is not None:
        said = messages(problem, min_length=MIN_PASSWORD)
        print(f"hallq: {said['en']} ({said['zh-Hans']})", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_device_key(args: argparse.Namespace) -> int:
    """Make a new device key: give the key to the device, put key_sha256 in the hall config."""
    from queue_server.auth import new_device_key

    key, digest = new_device_key()
    print(f"key        = {key}\nkey_sha256 = {digest}")
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``hallq`` command's parser: every subcommand, or, for one of a part's own commands
    (:data:`launcher.components.PART_COMMANDS`), the command's own subcommands and that part's only."""
    from hallq import __version__

    p = argparse.ArgumentParser(prog="hallq", description="Queue management and self-service kiosks for "
                                "government service halls (政务服务中心).", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"hallq {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="<command>")

    def add(name: str, fn, help_: str, example: str):
        sp = sub.add_parser(name, help=help_, description=fn.__doc__, epilog=f"example:\n  {example}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(func=fn)
        return sp

    s = add("serve", cmd_serve, "run the queue server",
            "hallq serve --host 0.0.0.0 --port 8080 --config config/city-hall/hall.toml")
    s.add_argument("--config", help="hall config file (default: $HALLQ_CONFIG or the sample city hall)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for the LAN)")
    s.add_argument("--port", type=int, help="port to listen on (default: the port of the hall's [hall] public_url, "
                   "else 8080)")
    s.add_argument("--data-dir", help="override $HALLQ_DATA_DIR")
    s.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    s.add_argument("--threads", type=int, default=SERVE_THREADS, help=f"threads per worker (default {SERVE_THREADS})")
    s.add_argument("--virtual-clock", metavar="WHEN", help="'next-open' or an ISO time: run on a virtual clock")
    s.add_argument("--access-log", action="store_true", help="log every request")
    s.add_argument("--tls", action="store_true", help="HTTPS with the hall's own certificate (see hallq tls)")
    s.add_argument("--demo", action="store_true",
                   help="demo mode: serve although the config has the demo credentials (also HALLQ_DEMO=1)")

    s = add("start", cmd_start, "start the whole hall (demo): server, broker and every other part",
            "hallq start --virtual-clock next-open")
    s.add_argument("--config", help="hall config file")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, help="port to listen on (default: the port of the hall's [hall] public_url, "
                   "else 8080)")
    s.add_argument("--data-dir", help="override $HALLQ_DATA_DIR")
    s.add_argument("--virtual-clock", metavar="WHEN", help="'next-open' or an ISO time")
    s.add_argument("--only", help="comma-separated parts to start (default: all)")
    s.add_argument("--demo", action="store_true",
                   help="demo mode: the sample halls' demo credentials are allowed (also HALLQ_DEMO=1)")

    s = add("broker", cmd_broker, "run only the hall's own broker (Mosquitto, its identities and ACL)",
            "hallq broker --config config/city-hall/hall.toml")
    s.add_argument("--config", help="hall config file")
    s.add_argument("--data-dir", help="where the broker's files and the identities' secrets live")
    s.add_argument("--configure-only", action="store_true",
                   help="write the configuration, password file, ACL and secrets, and do not start Mosquitto")

    s = add("tls", cmd_tls, "make the hall's own CA and server certificate (HTTPS, MQTT over TLS)",
            "hallq tls --config config/city-hall/hall.toml --hosts 192.168.10.2,hall-server.local")
    s.add_argument("--config", help="hall config file")
    s.add_argument("--data-dir", help="where the certificates go (default: the hall's data directory)")
    s.add_argument("--hosts", help="comma-separated names and addresses the devices use to reach the server "
                   "(default: this machine's name, localhost, 127.0.0.1)")
    s.add_argument("--renew", action="store_true", help="a new server certificate with the same CA")

    s = add("check-config", cmd_check_config, "check a hall config file", "hallq check-config config/city-hall/hall.toml")
    s.add_argument("config", nargs="?", help="hall config file")
    s.add_argument("--data-dir", help="the hall's data directory, to compare guides edited in the browser "
                   "(default: $HALLQ_DATA_DIR or the hall's)")

    s = add("hash-password", cmd_hash_password, "hash a staff password for the config",
            "hallq hash-password --job-no 1001")
    s.add_argument("--job-no", help="the account's job number, which the password must not contain")
    add("device-key", cmd_device_key, "make a device key", "hallq device-key")
    from launcher.components import COMPONENTS, PART_COMMANDS, components

    if command in PART_COMMANDS:
        owner = PART_COMMANDS[command]
        names: tuple[str, ...] = (owner,) if owner else ()
    else:
        names = COMPONENTS
    for module in components(names):  # the parts' own subcommands
        module.register(add)
    return p


def main(argv: list[str] | None = None) -> int:
    from launcher.components import command_of

    parser = build_parser(command_of(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    _setup_logging(args.verbose)
    return args.func(args) or 0
