"""``hallq devices``: the device gateway, and its part in ``hallq start``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("hallq.devices")


def _devices_path(args: argparse.Namespace) -> Path:
    from hallq.settings import config_path

    if args.config:
        return Path(args.config)
    return config_path(getattr(args, "hall", None)).parent / "devices.toml"


def cmd_devices(args: argparse.Namespace) -> int:
    """Run the device gateway: LED strips show the windows' state, keypads and rating pads act on the server.

    Keypads act for whoever is signed in at their window (sign in on the staff
    page or the API first). Devices are listed in devices.toml (see
    docs/devices.md); ``--check`` only checks it and lists the devices.

    With simulated devices (the demo), a running gateway also takes requests:
    ``hallq devices press 1 叫号`` presses a keypad key (叫号 重呼 开始办理 办结
    过号 转移 挂起 回呼 暂停 恢复 请评价, digits after it: ``press 1 转移 12``),
    ``hallq devices press 1 rate 5`` a rating pad key, and ``hallq devices show``
    lists what every simulated strip and keypad shows.
    """
    from device_gateway.config import load_gateway
    from device_gateway.sim_control import send, socket_path
    from hallq.hallconfig import ConfigError

    path = _devices_path(args)
    try:
        cfg = load_gateway(path, hall_path=args.hall, server=args.server)
    except ConfigError as e:
        print(f"hallq devices: the device configuration has problems:\n{e}", file=sys.stderr)
        return 2
    control = socket_path(cfg.hall.site, args.data_dir)
    if args.request:
        words = args.request
        line = f"rate {words[1]} {words[3]}" if len(words) == 4 and words[0] == "press" and words[2] == "rate" \
            else " ".join(words)
        try:
            answer = send(control, line)
        except OSError as e:
            print(f"hallq devices: no gateway with simulated devices answers on {control} ({e}); "
                  "start one with `hallq start` or `hallq devices`", file=sys.stderr)
            return 1
        print(answer)
        return 1 if answer.startswith("error") else 0
    if args.check:
        print(f"{path}: gateway {cfg.id} of {cfg.hall.site}, server {cfg.server}")
        for d in cfg.devices:
            where = f"bus {d.bus} ({cfg.buses[d.bus].port})" if d.driver == "serial" else "simulated"
            print(f"  {d.id:<14} {d.kind:<10} window {d.window:<4} address {d.address:<4} {where}")
        return 0
    from device_gateway.gateway import Gateway

    from hallq.settings import data_dir

    gateway = Gateway(cfg, control_path=control, data_dir=data_dir(cfg.hall.site, args.data_dir))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    gateway.start()
    try:
        stop.wait()
    finally:
        gateway.stop()
    return 0


def register(add) -> None:
    p = add("devices", cmd_devices, "run the device gateway (LED strips, call keypads, rating pads)",
            "hallq devices --config config/city-hall/devices.toml --server http://127.0.0.1:8080\n"
            "  hallq devices press 1 叫号        (a simulated keypad of a running gateway)")
    p.add_argument("request", nargs="*", metavar="press|show",
                   help="instead of running a gateway, ask the running one: press <window> <key> [digits], "
                        "press <window> rate <1-5>, or show")
    p.add_argument("--config", help="the gateway's devices.toml (default: devices.toml beside the hall config)")
    p.add_argument("--hall", help="the hall config (default: the one devices.toml names)")
    p.add_argument("--server", help="the queue server's URL, overriding [gateway] server")
    p.add_argument("--data-dir", help="override $HALLQ_DATA_DIR (where the simulated devices' socket is)")
    p.add_argument("--check", action="store_true", help="check the configuration, list the devices, and exit")


def hall_parts(args: argparse.Namespace) -> list[tuple[str, list[str], bool]]:
    """``hallq start`` runs the gateway when the hall config has a devices.toml beside it."""
    from hallq.settings import config_path

    hall = config_path(args.config)
    devices = hall.parent / "devices.toml"
    if not devices.exists():
        return []
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    argv = ["devices", "--config", str(devices), "--hall", str(hall), "--server", f"http://{host}:{args.port}"]
    if getattr(args, "data_dir", None):
        argv += ["--data-dir", str(args.data_dir)]
    return [("devices", argv, True)]
