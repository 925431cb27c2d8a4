"""The county across real network hops: halls in network namespaces behind a router that delays and drops their
packets, a partition of several halls while they go on working, then the link's return (issue 13's partition
target).

The topology, built with ``ip netns`` / ``ip link`` (root is needed; CI runs as root):

* the county (PostgreSQL, the NATS broker, ``hallq platform serve``) in this namespace, at ``10.213.N.254`` on a
  veth link to the router;
* a router in a namespace of its own: the halls' Linux bridge (``10.213.N.1/25``) and the county's link;
* each hall in a namespace of its own (its server, its Mosquitto bridged to the county broker, a kiosk issuing
  tickets over the hall's loopback), joined to the router's bridge by a veth pair, the hall at ``10.213.N.(10+i)``;
  the platform reads the hall's journal at that address (the hall's reverse proxy, a TCP relay in its namespace).

The links are impaired by 300 ms each way and 5 % loss each way, with one of (``HALLQ_PARTITION_IMPAIR``):

* ``netem``: ``tc qdisc … netem delay 300ms loss 5%`` on both ends of every hall's veth; the partition is
  ``loss 100%`` (a cut line: no reset, packets vanish);
* ``tun``: tools/linkemu.py on the router (for kernels without ``sch_netem``, like this machine's and CI's): policy
  routing sends every packet the router forwards into a TUN device, the emulator drops 5 % and holds the rest
  300 ms before it writes them back to be routed on; the partition sets the hall's address to 100 % loss;
* ``auto`` (the default): ``netem`` where the kernel has it, else ``tun``, and says which;
* ``none``: no latency or loss at all, the partition takes the hall's link down (a quick look only; never chosen
  by ``auto``). ``HALLQ_PARTITION_REQUIRE_NETEM=1`` is ``HALLQ_PARTITION_IMPAIR=netem``.

Then: 0 events lost, 0 counted twice (the platform's events are each hall's journal, entry for entry, with its
digest), every partitioned hall caught up within 60 s of the link's return, the connected halls heard throughout,
and issuing a ticket in every hall as fast during the partition as before it.

The default size is small (``HALLQ_PARTITION_HALLS=4`` halls of which ``HALLQ_PARTITION_CUT=3`` partitioned for
``HALLQ_PARTITION_SECONDS=60``); issue 13's full size is ``HALLQ_PARTITION_HALLS=21 HALLQ_PARTITION_CUT=20
HALLQ_PARTITION_SECONDS=600``. ``HALLQ_PARTITION_JSON=path`` writes the run's figures there (docs/partition-*.json).
"""

from __future__ import annotations

import json
import os
import platform as pyplatform
import shutil
import subprocess
import threading
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest

from county import db as cdb
from county import intake
from county.broker import BrokerSettings, CountyBroker, bridge_files
from county.config import load_county
from hallq import contract
from hallq.client import free_port
from hallq.testing import wait_until
from tests.county.conftest import PLATFORM_PASSWORD, Platform, sql
from tests.county.netns import DELAY_MS, IMPAIR, LOSS, NETEM, Net, NsHall, choose_impairment, ip

ROOT = Path(__file__).resolve().parents[2]
HALLS = int(os.environ.get("HALLQ_PARTITION_HALLS", "4"))
CUT = int(os.environ.get("HALLQ_PARTITION_CUT", "3"))
PARTITION_SECONDS = float(os.environ.get("HALLQ_PARTITION_SECONDS", "60"))
# the partition, the halls' starts (a few seconds each on shared cores), the catch-up and the checks
pytestmark = [pytest.mark.slow, pytest.mark.mosquitto, pytest.mark.timeout(int(PARTITION_SECONDS + 15 * HALLS + 300))]
RESULTS = os.environ.get("HALLQ_PARTITION_JSON", "")
CATCH_UP_SECONDS = 60.0  # issue 13: every hall caught up within 60 s of the link's return
LATE_GRACE_SECONDS = 120.0  # a hall late for that is waited for this much longer, to tell late from lost
INGEST = {"reconcile_seconds": 2}  # the county's [ingest]: the halls checked often (other keys: the defaults)
# a ticket issued in a hall, p99: the hall must not notice the county's network. The bench target is 30 ms under
# load on a quiet machine (issue 16); this machine's two cores are shared with the county, the other halls and
# other suites, so the bound is generous and the partition is also compared with the same hall before it.
ISSUE_P99_BOUND = 0.5




def percentile(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))] if s else 0.0


def p99(samples: list[float]) -> float:
    return percentile(samples, 0.99)


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": pyplatform.release(),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()], "python": pyplatform.python_version()}


def commit() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.rstrip("\n")

    changed = git("status", "--porcelain", "--", "county", "hallq", "queue_server", "launcher", "tools/linkemu.py",
                  "tests/county/test_partition.py", "tests/county/netns.py")
    return {"git": git("rev-parse", "--short=12", "HEAD").strip(),
            "uncommitted_changes": [line[3:] for line in changed.splitlines()]}


@pytest.fixture
def net(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        pytest.skip("the partition test needs root with ip and tc (iproute2) to build network namespaces")
    probe = f"hqprobe{os.getpid() % 100000}"
    out = ip("netns", "add", probe, check=False)
    if out.returncode:
        pytest.skip(f"cannot create a network namespace here (ip netns add: {out.stderr.strip()}); "
                    "run as root on a kernel with network namespaces")
    ip("netns", "del", probe, check=False)
    n = Net(tmp_path)
    try:
        n.up()
        yield n
    finally:
        n.down()


def test_a_partition_of_halls_across_real_network_hops_loses_nothing_and_counts_nothing_twice(
        net, tmp_path, county_db, capsys):
    sites = [f"hall-{i:02d}" for i in range(HALLS)]
    cut_sites, connected = sites[:CUT], sites[CUT:]
    halls: dict[str, NsHall] = {}
    broker = platform = None
    stop = threading.Event()
    kiosks: list[threading.Thread] = []
    started = datetime.now(timezone.utc)
    at_start = machine()
    mode, why = choose_impairment(net)
    what = {"netem": f"tc netem {NETEM} on both ends of every hall's link",
            "tun": f"tools/linkemu.py (user space, TUN on the router): {DELAY_MS} ms and {LOSS:.0%} loss each way "
                   "on every hall's link",
            "none": "NO latency or loss; the partition takes the link down"}[mode]
    with capsys.disabled():
        print(f"\npartition test: {HALLS} halls, {CUT} cut for {PARTITION_SECONDS:.0f} s; impairment: {what} ({why})",
              flush=True)
    if mode == "none":
        warnings.warn("the partition test runs without latency or loss (HALLQ_PARTITION_IMPAIR=none)", stacklevel=1)
    try:
        if mode == "tun":
            net.start_emulator()
        mqtt_port = free_port()
        for i, site in enumerate(sites):
            halls[site] = NsHall(tmp_path / site, site, net, i)
        cfg_path = tmp_path / "county.toml"
        lines = ['[county]\nid = "netcounty"\nname = { zh-Hans = "网络县", en = "Network county" }\n',
                 f'[broker]\nurl = "mqtt://{net.county}:{mqtt_port}"\nusername = "platform"\n'
                 'password = "env:HALLQ_COUNTY_BROKER_PASSWORD"\n',
                 "[ingest]\n" + "".join(f"{k} = {v}\n" for k, v in INGEST.items())]
        for site, h in halls.items():
            (tmp_path / f"{site}.key").write_text(h.key + "\n")
            lines.append(f'[[halls]]\nsite = "{site}"\nlevel = "village"\nname = {{ zh-Hans = "{site}" }}\n'
                         f'journal_url = "{h.journal_url}"\n'
                         f'credential = "file:{tmp_path / (site + ".key")}"\n')
        cfg_path.write_text("\n".join(lines), encoding="utf-8")
        os.environ["HALLQ_COUNTY_BROKER_PASSWORD"] = PLATFORM_PASSWORD
        cfg = load_county(cfg_path, database_url=county_db)
        cdb.migrate(county_db)
        broker = CountyBroker(cfg, BrokerSettings(folder=tmp_path / "broker", mqtt_listen=f"{net.county}:{mqtt_port}"))
        broker.start()
        for site, h in halls.items():
            bridge_files(load_county(cfg_path, need_database=False), tmp_path / "broker", site,
                         f"{net.county}:{mqtt_port}", h.conf)
            h.start()
            h.impair(mode)
        platform = Platform(tmp_path, cfg_path, county_db)
        platform.start()

        def progress() -> dict[str, dict]:
            return {r["site"]: r for r in sql(county_db, "SELECT * FROM hall_progress")}

        def high_water(site: str) -> int:
            return progress().get(site, {}).get("high_water", 0)

        kiosks = [h.kiosk(stop) for h in halls.values()]
        issued_so_far = {s: len(h.journal()) for s, h in halls.items()}
        wait_until(lambda: all(high_water(s) >= issued_so_far[s] for s in sites), 120,
                   "every hall heard over its impaired link")
        t_cut = time.monotonic()
        for s in cut_sites:
            halls[s].cut(mode)
        before = {s: high_water(s) for s in connected}
        stop_at = t_cut + PARTITION_SECONDS
        while time.monotonic() < stop_at:  # the connected halls are heard all along
            time.sleep(min(5.0, max(0.0, stop_at - time.monotonic())))
        for s in connected:
            assert high_water(s) > before[s], f"hall {s}, not partitioned, was not heard during it"
        at_heal = progress()
        assert all(at_heal[s]["high_water"] < len(halls[s].journal()) for s in cut_sites), \
            "a partitioned hall was heard during its partition: the cut did not cut"
        emulator_during = net.emulator_stats()
        t_heal = time.monotonic()
        for s in cut_sites:
            halls[s].heal(mode)
        stop.set()
        for k in kiosks:
            k.join(30)
        final = {s: len(h.journal()) for s, h in halls.items()}  # nothing is issued any more
        caught: dict[str, float] = {}
        heard: dict[str, float] = {}  # when a cut hall's first event after the link's return came in
        # each hall's own time to catch up, and past the target, how late a late one is (lost, or only late?)
        deadline = t_heal + CATCH_UP_SECONDS + LATE_GRACE_SECONDS
        while len(caught) < len(sites) and time.monotonic() < deadline:
            now, rows = time.monotonic(), progress()
            for s in sites:
                hw = rows.get(s, {}).get("high_water", 0)
                if s in cut_sites and s not in heard and hw > at_heal[s]["high_water"]:
                    heard[s] = now - t_heal
                if s not in caught and hw >= final[s]:
                    caught[s] = now - t_heal
            time.sleep(0.1)
        late = sorted(s for s in sites if caught.get(s, CATCH_UP_SECONDS + 1) > CATCH_UP_SECONDS)

        rows = progress()
        results: dict[str, dict] = {}
        problems: list[str] = []
        for site, h in halls.items():  # 0 lost, 0 twice: the platform's events are the hall's journal
            journal = h.journal()
            stored = {r["seq"]: r for r in sql(county_db, "SELECT seq, digest FROM events WHERE site = %s", (site,))}
            copies = sql(county_db, "SELECT count(*) - count(DISTINCT seq) AS n FROM events WHERE site = %s",
                         (site,))[0]["n"]
            seqs = [e["seq"] for e in journal]
            lost = sorted(set(seqs) - set(stored))
            extra = sorted(set(stored) - set(seqs))
            wrong = [e["seq"] for e in journal if e["seq"] in stored
                     and stored[e["seq"]]["digest"] != intake.digest(contract.journal_event(site, e))]
            if lost or extra or wrong or copies:
                problems.append(f"hall {site}: lost {lost[:5]}…({len(lost)}), not in its journal {extra[:5]}, "
                                f"digest differs {wrong[:5]}, stored twice {copies}")
            normal = [d for t, d in h.issued if t < t_cut]
            during = [d for t, d in h.issued if t_cut <= t < t_heal]
            p = rows.get(site, {})
            results[site] = {
                "partitioned": site in cut_sites, "events": len(journal), "lost": len(lost),
                "duplicates": copies + len(extra), "digest_mismatches": len(wrong),
                "received_live": p.get("live_events"), "received_by_catch_up": p.get("catchup_events"),
                "copies_refused": p.get("duplicates"),
                "behind_at_link_return": final[site] - at_heal[site]["high_water"] if site in cut_sites else None,
                "first_heard_seconds": round(heard[site], 2) if site in heard else None,
                "caught_up_seconds": round(caught[site], 2) if site in caught else None,
                "issue_failures": len(h.failures),
                "issue_before": {"n": len(normal), "p50_ms": round(percentile(normal, 0.5) * 1000, 1),
                                 "p99_ms": round(p99(normal) * 1000, 1)},
                "issue_during": {"n": len(during), "p50_ms": round(percentile(during, 0.5) * 1000, 1),
                                 "p99_ms": round(p99(during) * 1000, 1)},
            }
        quarantined = sql(county_db, "SELECT site, reason, detail FROM quarantine")
        emulator_after = net.emulator_stats()
        caught_cut = [caught[s] for s in cut_sites if s in caught]
        summary = {
            "format": 1, "test": "tests/county/test_partition.py",
            "command": (f"HALLQ_PARTITION_HALLS={HALLS} HALLQ_PARTITION_CUT={CUT} "
                        f"HALLQ_PARTITION_SECONDS={PARTITION_SECONDS:g} HALLQ_PARTITION_IMPAIR={IMPAIR} "
                        ".venv/bin/python -m pytest tests/county/test_partition.py -s"),
            "generated": started.isoformat(timespec="seconds"), "machine": at_start, **commit(),
            "impairment": {"mode": mode, "why": why, "delay_ms_each_way": DELAY_MS if mode != "none" else 0,
                           "loss_each_way": LOSS if mode != "none" else 0, "what": what,
                           "emulator_during_partition": emulator_during, "emulator_at_end": emulator_after},
            "halls": HALLS, "partitioned": CUT, "partition_seconds": PARTITION_SECONDS,
            "catch_up_target_seconds": CATCH_UP_SECONDS, "waited_for_late_halls_seconds": LATE_GRACE_SECONDS,
            "county_ingest": {k: getattr(cfg.ingest, k) for k in ("reconcile_seconds", "catchup_page",
                                                                  "catchup_threads")},
            "events": sum(r["events"] for r in results.values()),
            "lost": sum(r["lost"] for r in results.values()),
            "duplicates": sum(r["duplicates"] + r["digest_mismatches"] for r in results.values()),
            "quarantined": len(quarantined),
            "not_caught_up_in_time": late,
            "not_caught_up_at_all": sorted(set(sites) - set(caught)),
            "caught_up_seconds_max": round(max(caught_cut), 2) if caught_cut else None,
            "issue_p99_ms_max_before": max(r["issue_before"]["p99_ms"] for r in results.values()),
            "issue_p99_ms_max_during": max(r["issue_during"]["p99_ms"] for r in results.values()),
            "issue_failures": sum(r["issue_failures"] for r in results.values()),
            "per_hall": results,
        }
        if RESULTS:
            Path(RESULTS).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        with capsys.disabled():
            print(f"partition test ({mode}): {summary['events']} events, lost {summary['lost']}, duplicates "
                  f"{summary['duplicates']}; caught up at most {summary['caught_up_seconds_max']} s after the link's "
                  f"return (late: {late}); issue p99 at most {summary['issue_p99_ms_max_before']:.0f} ms before, "
                  f"{summary['issue_p99_ms_max_during']:.0f} ms during" + (f"; written to {RESULTS}" if RESULTS else ""),
                  flush=True)

        assert not late, (f"halls {late} not caught up within {CATCH_UP_SECONDS:.0f} s of their link's return: "
                          f"{ {s: rows.get(s) for s in late} }")
        assert problems == [], problems
        assert quarantined == [], quarantined
        for site, h in halls.items():  # the halls did not notice: every ticket issued, as fast as before
            assert h.failures == [], f"hall {site} failed to issue during the test: {h.failures[:3]}"
            during = [d for t, d in h.issued if t_cut <= t < t_heal]
            normal = [d for t, d in h.issued if t < t_cut]
            assert len(during) >= PARTITION_SECONDS, f"hall {site} issued only {len(during)} tickets during the cut"
            assert p99(during) <= max(ISSUE_P99_BOUND, 3 * p99(normal)), \
                f"hall {site}: issue p99 {p99(during) * 1000:.0f} ms during the partition, {p99(normal) * 1000:.0f} before"
    finally:
        stop.set()
        if platform is not None:
            platform.stop()
        for h in halls.values():
            h.stop()
        if broker is not None:
            broker.stop()
