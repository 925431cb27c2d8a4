"""``hallq kiosk``: the self-service kiosk (自助取号机), and its part in ``hallq start``.

With no display (no DISPLAY / WAYLAND_DISPLAY) the kiosk still runs, drawn
offscreen, and writes a screenshot of every screen it shows; the log says so.
In a demo without a display, ``hallq start --demo`` adds ``--autopilot`` so that
the kiosk goes through real flows by itself (kiosk.autopilot).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("hallq.kiosk")

HEAP_TRIM_FIRST = 10.0  # seconds after start
HEAP_TRIM_EVERY = 600.0  # seconds
DEMO_AUTOPILOT_SECONDS = 15     # hallq start --demo without a display: a flow every 15 s on the home screen
EXAMPLE = "hallq kiosk --config config/village-station/kiosk.toml --server http://192.168.1.10:8080"


def register(add) -> None:
    p = add("kiosk", cmd_kiosk, "run the self-service kiosk (自助取号机)", EXAMPLE)
    p.add_argument("--config", help="kiosk.toml (default: $HALLQ_KIOSK_CONFIG or config/city-hall/kiosk.toml)")
    p.add_argument("--server", help="the queue server's URL, overriding server_url")
    p.add_argument("--layout", choices=["portrait", "landscape"], help="override the screen layout")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen (for trying it out)")
    p.add_argument("--headless", action="store_true",
                   help="draw offscreen and write screenshots (automatic when there is no display)")
    p.add_argument("--screenshots", help="where screenshots go when headless (default: <data dir>/<kiosk id>-screens)")
    p.add_argument("--data-dir", help="override $HALLQ_DATA_DIR: where screenshots and simulated prints go")
    p.add_argument("--simulate", action="store_true",
                   help="simulated printer, ID card reader and scanner, whatever the config says (demo)")
    p.add_argument("--check", action="store_true", help="check the config and the devices, print their health, exit")
    p.add_argument("--autopilot", type=float, metavar="SECONDS",
                   help="demo only, with --simulate: every SECONDS on the home screen the kiosk goes through a flow "
                        "by itself (take a number, a guide, a booking, an application), so that a demo without a "
                        "screen shows and prints something (hallq start --demo does this when there is no display)")


def _own_dir(cfg, override: str | None) -> Path:
    """The kiosk's data directory: --data-dir, else $HALLQ_DATA_DIR, else the per-user/system default."""
    from hallq.settings import data_dir

    return data_dir(cfg.mqtt_site or "kiosk", override)


def _simulated(cfg, own_dir: Path, everything: bool):
    """Simulated printer, ID card reader and scanner (``everything``, for --simulate), or the configuration as it
    is; a simulated printer without ``output_dir`` writes its tickets to ``<data dir>/<kiosk id>-printed``."""
    from kiosk.config import DeviceChoice

    if everything:
        printer = {k: v for k, v in cfg.printer.options.items()
                   if k in ("encoding", "paper_mm", "qr_module", "number_scale", "cut", "output_dir")}
        cfg = dataclasses.replace(cfg, printer=DeviceChoice("simulator", printer), id_reader=DeviceChoice("simulator"),
                                  scanner=DeviceChoice("simulator"))
    if cfg.printer.driver == "simulator" and not cfg.printer.options.get("output_dir"):
        options = {**cfg.printer.options, "output_dir": str(own_dir / f"{cfg.id}-printed")}
        cfg = dataclasses.replace(cfg, printer=DeviceChoice("simulator", options))
    return cfg


def _escpos_cache(own_dir: Path) -> None:
    """python-escpos reads its printer capabilities (a 1 MB JSON, through PyYAML: 0.3 s) when first imported, at the
    first ticket, and pickles them to a directory of its own: a fresh temporary one per process unless told,
    so every start read the JSON again and left a directory behind in /tmp. Here it is the kiosk's data
    directory: the import at the first ticket takes 0.1 s and 2 MB less (docs/kiosk.md, "Memory on a village
    station"). The pickle is remade when python-escpos's JSON is newer."""
    cache = own_dir / "escpos-cache"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:   # no harm: python-escpos falls back to its temporary directory
        log.warning("python-escpos' cache %s cannot be made (%s): the first ticket reads its capabilities anew", cache, e)
        return
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(cache))


def cmd_kiosk(args: argparse.Namespace) -> int:
    """Run the kiosk: touch screen, ticket printer, ID card reader and scanner, talking to the queue server."""
    from device_drivers.base import DeviceError
    from hallq.hallconfig import ConfigError
    from kiosk.config import load_kiosk

    try:
        cfg = load_kiosk(args.config, server_url=args.server.rstrip("/") if args.server else None, layout=args.layout)
    except ConfigError as e:
        print(f"hallq kiosk: the kiosk configuration has problems:\n{e}", file=sys.stderr)
        return 2
    cfg = _simulated(cfg, _own_dir(cfg, args.data_dir), args.simulate)
    _escpos_cache(_own_dir(cfg, args.data_dir))
    from kiosk.api import KioskApi
    from kiosk.devices import KioskDevices
    from kiosk.session import KioskSession

    try:
        devices = KioskDevices.from_config(cfg)
    except (DeviceError, ValueError) as e:
        print(f"hallq kiosk: {cfg.path}: a device cannot be set up: {e}", file=sys.stderr)
        return 2
    if args.check:
        health = devices.check_health()
        for device, problems in sorted(health.items()):
            print(f"{cfg.id}-{device}: {'ok' if not problems else ', '.join(problems)}")
        devices.close()
        return 0 if not any(p for p in health.values() if set(p) - {"no_status", "paper_near_end"}) else 1
    if args.autopilot is not None and (args.autopilot <= 0 or cfg.id_reader.driver != "simulator"):
        print("hallq kiosk: --autopilot needs a number of seconds above 0 and the simulated devices (add --simulate):"
              " it drives the kiosk by itself, for demos only", file=sys.stderr)
        devices.close()
        return 2
    session = KioskSession(cfg, KioskApi.connect(cfg.server_url, cfg.device_key), devices)

    from kiosk.ui.setup import prepare

    headless = prepare(cfg.size, cfg.fullscreen and not args.windowed, headless=True if args.headless else None,
                       multisamples=cfg.multisamples)
    shots = None
    if headless:
        shots = args.screenshots or cfg.screenshot_dir or str(_own_dir(cfg, args.data_dir) / f"{cfg.id}-screens")
        log.warning("no display: the kiosk runs offscreen (%s, %dx%d); a screenshot of every screen it shows "
                    "goes to %s/", cfg.layout, *cfg.size, Path(shots).resolve())
    log.info("kiosk %s: server %s, printer %s, ID reader %s, scanner %s, voice %s", cfg.id, cfg.server_url,
             cfg.printer.driver, cfg.id_reader.driver, cfg.scanner.driver, cfg.voice.driver)
    from kivy.clock import Clock

    from hallq.kivymem import trim_idle
    from kiosk.ui.app import KioskApp

    # what start-up freed (kv rules parsed, the first textures uploaded, shaders compiled) back to the system,
    # with the shader compiler's code, once the home screen is up, then now and then (docs/kiosk.md, "The
    # kiosk's memory")
    Clock.schedule_once(trim_idle, HEAP_TRIM_FIRST)
    Clock.schedule_interval(trim_idle, HEAP_TRIM_EVERY)
    app = KioskApp(session, headless=headless, screenshot_dir=shots, data_dir=_own_dir(cfg, args.data_dir))
    pilot = None
    if args.autopilot is not None:
        from kiosk.autopilot import Autopilot

        pilot = Autopilot(app, args.autopilot)    # held here: Kivy keeps only a weak reference to a bound method
        app.bind(on_start=pilot.start)
    try:
        app.run()
    finally:
        devices.close()
    del pilot
    return 0


def hall_parts(args) -> list[tuple[str, list[str], bool]]:
    """``hallq start`` runs the hall's kiosk (kiosk.toml beside the hall config) with the devices it configures.

    A simulator is chosen by configuration, never silently: only ``hallq start --demo`` (or HALLQ_DEMO=1) adds
    ``--simulate`` (every device simulated, and ``--autopilot`` without a display, which needs them); otherwise
    the kiosk runs kiosk.toml as written: its serial printer, its ID card reader, and no scanner where it says
    ``driver = "none"``."""
    from hallq.hallconfig import load_hall
    from hallq.settings import config_path, data_dir

    hall = config_path(args.config)
    kiosk_toml = hall.parent / "kiosk.toml"
    if not kiosk_toml.exists():
        return []
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    # the hall's data directory, so that the demo's screenshots and printed tickets sit beside the board's
    own = data_dir(load_hall(hall).site, getattr(args, "data_dir", None))
    argv = ["kiosk", "--config", str(kiosk_toml), "--server", f"http://{host}:{args.port}", "--data-dir", str(own)]
    from hallq.demo import demo_mode

    if demo_mode(getattr(args, "demo", False)):
        argv.insert(argv.index("--data-dir"), "--simulate")
        from kiosk.ui.setup import has_display

        if not has_display():
            argv += ["--autopilot", str(DEMO_AUTOPILOT_SECONDS)]   # nobody taps a kiosk without a screen: it taps itself
    return [("kiosk", argv, True)]
