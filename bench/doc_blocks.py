"""The renderers of the docs' other generated blocks, each from one committed JSON file (bench/docs_figures.py's
``BLOCKS``): the dispatch simulation, the calls and structure comparisons, backup, search, the county platform
and its partition test."""

from __future__ import annotations

from spread import fmt_spread, spread


def dispatch(data: dict) -> str:
    from bench_dispatch import render

    return render(data)


def calls(data: dict) -> str:
    """The call-next figures: latency to an MQTT subscriber, and its flatness against the queue's size."""
    import statistics

    def spread(values: list[float], unit: str = " ms") -> str:
        return f"{statistics.median(values):.1f}{unit} ({min(values):.1f}–{max(values):.1f})"
    runs = [r["latency"] for r in data["call_to_mqtt"]]
    lines = [f"{data['date']}, {len(runs)} runs of `bench/bench_call.py` (100 calls/s for 10 s, Mosquitto), "
             "median (min–max) over the runs:", "",
             "| p50 | p90 | p99 | max | calls lost |", "|---|---|---|---|---|",
             f"| {spread([r['p50_ms'] for r in runs])} | {spread([r['p90_ms'] for r in runs])} | "
             f"**{spread([r['p99_ms'] for r in runs])}** | {spread([r['max_ms'] for r in runs])} | "
             f"{sum(r['calls_not_received'] for r in data['call_to_mqtt'])} of "
             f"{sum(r['n'] for r in runs)} |", "",
             f"{len(data['call_scaling'])} runs of `bench/bench_call_scaling.py` (every class queued), "
             "p50 of a call by the queue's size, median (min–max) over the runs:", "",
             "| waiting | p50 | p99 |", "|---|---|---|"]
    sizes = [c["waiting"] for c in data["call_scaling"][0]["curve"]]
    for i, n in enumerate(sizes):
        curve = [run["curve"][i] for run in data["call_scaling"]]
        lines.append(f"| {n:,} | {spread([c['p50_ms'] for c in curve])} | {spread([c['p99_ms'] for c in curve])} |")
    worst = [run["p50_spread_vs_smallest"] for run in data["call_scaling"]]
    lines += ["", f"Largest p50 spread against the 10-ticket queue: {statistics.median(worst):.1%} "
              f"({min(worst):.1%}–{max(worst):.1%}) (target ±20 %)."]
    return "\n".join(lines)


def structure(data: dict) -> str:
    """Two commits benchmarked in turns (bench/compare.py): the figures of each and the change."""
    names = {"tickets_per_second": "tickets issued per second", "issue_p50_ms": "issue p50 (ms)",
             "issue_p99_ms": "issue p99 (ms)", "call_to_mqtt_p50_ms": "call next → MQTT p50 (ms)",
             "call_to_mqtt_p99_ms": "call next → MQTT p99 (ms)", "calls_not_received": "calls lost",
             "call_p50_ms_10_waiting": "call next p50, 10 waiting (ms)",
             "call_p50_ms_100000_waiting": "call next p50, 100,000 waiting (ms)",
             "call_p99_ms_100000_waiting": "call next p99, 100,000 waiting (ms)"}
    runs = len(next(iter(data["benchmarks"].values()))["runs"]["base"])
    lines = [f"{data['machine']['date']}, `{data['command']}`: base `{data['base']}` against head "
             f"`{data['head']}`, {runs} runs each, in turns; median (every run):", "",
             "| figure | base | head | change |", "|---|---|---|---|"]
    for bench in data["benchmarks"].values():
        for key, f in bench["figures"].items():
            every = lambda xs: ", ".join(f"{x:g}" for x in xs)  # noqa: E731
            change = "–" if f["change"] is None else f"{f['change']:+.1%}"
            lines.append(f"| {names.get(key, key)} | {f['base_median']:g} ({every(f['base_runs'])}) | "
                         f"{f['head_median']:g} ({every(f['head_runs'])}) | {change} |")
    return "\n".join(lines)


# name: (doc, committed JSON (or a function finding it, None when there is none), renderer)
def backup(data: dict) -> str:
    """hallq backup of a year while kiosks issue: its time and the issue latency before and during it."""
    import statistics

    def spread(values: list[float], unit: str) -> str:
        return f"{statistics.median(values):.1f}{unit} ({min(values):.1f}–{max(values):.1f})"
    runs = data["runs"]
    secs = [r["backup_seconds"] for r in runs]
    during = [r["issue_during"]["p99_ms"] for r in runs]
    before = [r["issue_before"]["p99_ms"] for r in runs]
    t = data["targets"]
    lines = [f"{data['machine']['date']}, {len(runs)} runs of `bench/bench_backup.py` ({data['tickets']:,} tickets, "
             f"{runs[0]['database_mb']:.0f} MB; kiosks issuing {data['rate_per_s']:.0f} tickets/s throughout; "
             f"{data['machine']['cpus']} cores, load average {data['machine']['load_average_1_5_15'][0]:.1f} at the "
             "start), median (min–max):", "",
             "| backup | issue p99 before | issue p99 during | tickets lost or refused |", "|---|---|---|---|",
             f"| **{spread(secs, ' s')}** (target ≤ {t['backup_seconds']} s) | {spread(before, ' ms')} | "
             f"**{spread(during, ' ms')}** (target ≤ {t['issue_p99_ms_during']} ms) | "
             f"{sum(r['errors'] for r in runs)} |"]
    return "\n".join(lines)


def search(data: dict) -> str:
    """Item search over 2,000 items through a real server: p50/p99 per run, median (min–max)."""
    import statistics

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} ms ({min(values):.1f}–{max(values):.1f})"
    runs = data["runs"]
    m = data.get("machine") or {}
    return "\n".join([
        f"{m.get('date', '')}, {len(runs)} runs of `bench/bench_search.py` ({data['items']:,} items, 23 queries × 30, "
        f"one keep-alive client, the hall's own broker on; load average {(m.get('load_average_1_5_15') or [0])[0]:.1f} "
        "at the start), median (min–max):", "",
        "| p50 | p99 | index rebuild | unexpected statuses |", "|---|---|---|---|",
        f"| {spread([r['overall']['p50_ms'] for r in runs])} | **{spread([r['overall']['p99_ms'] for r in runs])}** "
        f"(target ≤ {data['target_p99_ms']} ms) | {spread([r['index_rebuild']['median_ms'] for r in runs])} | "
        f"{sum(len(r['unexpected_status']) for r in runs)} |"])


def partition(data: dict) -> str:
    """Issue 13's partition runs (tests/county/test_partition.py, HALLQ_PARTITION_JSON), one file of them all
    (``{"runs": [...]}``): every run in a line with the medians and spreads, then the median run in detail."""
    runs = data["runs"] if "runs" in data else [data]
    if len(runs) == 1:
        return partition_run(runs[0])
    by_catch_up = sorted(runs, key=lambda r: r["caught_up_seconds_max"] or float("inf"))
    median_run = by_catch_up[(len(runs) - 1) // 2]
    caught = [r["caught_up_seconds_max"] for r in runs if r["caught_up_seconds_max"] is not None]
    lines = [f"{len(runs)} full runs, medians (min–max): the last partitioned hall caught up "
             f"{fmt_spread(caught, 1, ' s') if caught else 'never'} after its link's return (target "
             f"≤ {runs[0]['catch_up_target_seconds']:.0f} s); events lost {sum(r['lost'] for r in runs)} and counted "
             f"twice {sum(r['duplicates'] for r in runs)} in all {sum(r['events'] for r in runs):,}; issue p99 of the "
             f"worst hall during the partition {fmt_spread([r['issue_p99_ms_max_during'] for r in runs], 0, ' ms')}.",
             "", "| run | commit | load average at the start | events | lost | counted twice | last caught up | "
             "issue p99, worst hall, before / during |", "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | `{r['git']}` | {r['machine']['load_average_1_5_15'][0]:.1f} | {r['events']:,} | "
                     f"{r['lost']} | {r['duplicates']} | "
                     + ("–" if r["caught_up_seconds_max"] is None else f"{r['caught_up_seconds_max']:.1f} s")
                     + f" | {r['issue_p99_ms_max_before']:.0f} / {r['issue_p99_ms_max_during']:.0f} ms |")
    lines += ["", f"Run {runs.index(median_run) + 1}, the median, in detail:", "", partition_run(median_run)]
    return "\n".join(lines)


def partition_run(data: dict) -> str:
    """One partition run: the whole, then each hall."""
    import statistics

    m, imp, halls = data["machine"], data["impairment"], data["per_hall"]
    cut = {s: h for s, h in halls.items() if h["partitioned"]}
    caught = [h["caught_up_seconds"] for h in cut.values() if h["caught_up_seconds"] is not None]
    link = next((r for r in (imp.get("emulator_at_end") or {}).get("rules", []) if r["packets"]), None)
    through = (f" The emulator carried {link['packets']:,} packets of the halls' links and lost "
               f"{link['lost']:,} of them ({link['lost'] / link['packets']:.2%}), {link['overflow']} over its "
               "limit." if link else "")
    late = (imp.get("emulator_at_end") or {}).get("late")
    if late:
        through += (f" It wrote the packets it held {late['mean_ms']:.1f} ms after their due time on average, "
                    f"{late['max_ms']:.0f} ms at most ({late['over_50_ms']:,} of {late['held']:,} over 50 ms).")
    cuts = [r for r in (imp.get("emulator_during_partition") or {}).get("rules", []) if r["loss"] >= 1]
    if cuts:
        through += (f" During the partition it dropped all {sum(r['lost'] for r in cuts):,} packets to and from the "
                    f"{len(cuts)} cut halls ({sum(r['packets'] for r in cuts):,} sent).")
    dirty = f" (uncommitted changes in {', '.join(data['uncommitted_changes'])})" if data["uncommitted_changes"] else ""
    ingest = data.get("county_ingest")
    if ingest:
        through += (f" The county's `[ingest]`: `catchup_threads = {ingest['catchup_threads']}`, `catchup_page = "
                    f"{ingest['catchup_page']}`, `reconcile_seconds = {ingest['reconcile_seconds']:g}`.")
    lines = [
        f"{data['generated'][:10]}, `{data['command']}`, commit `{data['git']}`{dirty}; {m['cpus']} × "
        f"{m['cpu_model']}, kernel {m['kernel']}, load average {m['load_average_1_5_15'][0]:.1f} at the start "
        f"(shared with other work). Links: {imp['what']}.{through}", "",
        "| halls | partitioned | for | events | lost | counted twice | quarantined | caught up after the link's "
        "return | issue p99, worst hall, before / during |", "|---|---|---|---|---|---|---|---|---|",
        f"| {data['halls']} | {data['partitioned']} | {data['partition_seconds']:.0f} s | {data['events']:,} | "
        f"**{data['lost']}** | **{data['duplicates']}** | {data['quarantined']} | "
        + (f"**{max(caught):.1f} s** at most, median {statistics.median(caught):.1f} s "
           f"(target ≤ {data['catch_up_target_seconds']:.0f} s)" if caught else "–")
        + (f", **not in time: {', '.join(data['not_caught_up_in_time'])}**" if data["not_caught_up_in_time"] else "")
        + (f", **not at all in {data['catch_up_target_seconds'] + data['waited_for_late_halls_seconds']:.0f} s: "
           f"{', '.join(data['not_caught_up_at_all'])}**" if data.get("not_caught_up_at_all") else "")
        + f" | {data['issue_p99_ms_max_before']:.0f} ms / {data['issue_p99_ms_max_during']:.0f} ms |", "",
        "| hall | partitioned | events | behind at the link's return | heard again / caught up after it | "
        "by catch-up / live | issue p50 / p99 before | issue p50 / p99 during |", "|---|---|---|---|---|---|---|---|"]

    def secs(x: float | None) -> str:
        return "–" if x is None else f"{x:.1f} s"
    for site, h in halls.items():
        b, d = h["issue_before"], h["issue_during"]
        lines.append(
            f"| {site} | {'yes' if h['partitioned'] else 'no'} | {h['events']:,} | "
            f"{'–' if h['behind_at_link_return'] is None else format(h['behind_at_link_return'], ',')} | "
            f"{secs(h.get('first_heard_seconds'))} / {secs(h['caught_up_seconds'])} | "
            f"{h['received_by_catch_up']:,} / {h['received_live']:,} | {b['p50_ms']:.0f} / {b['p99_ms']:.0f} ms | "
            f"{d['p50_ms']:.0f} / {d['p99_ms']:.0f} ms |")
    return "\n".join(lines)


def county(data: dict) -> str:
    """Issue 13's ingestion target, from bench/bench_county.py runs: as fast as the broker takes them (the
    sustained rate) and at 5,000 events/s (commit → visible in the console)."""
    fast, steady = data["max"], data["rate_5000"]
    loads = [r["machine"]["load_average_1_5_15"][0] for r in fast + steady]
    cpu = lambda part, runs: fmt_spread([r["cpu"][f"{part}_cpu_s_per_1000_events"] for r in runs], 3, " s")  # noqa
    rate = [r["ingested_per_s_sustained"] for r in fast]
    p99 = [r["commit_to_visible_ms"]["p99_ms"] for r in steady]
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    return "\n".join([
        f"{data['generated'][:10]}, commit `{data['git']}`, {fast[0]['halls']} halls, {len(fast)} runs of "
        f"`{data['commands']['max']}` and {len(steady)} of `{data['commands']['rate_5000']}`; "
        f"{fast[0]['machine']['cpus']} × {fast[0]['machine']['cpu_model']}, load average "
        f"{min(loads):.1f}–{max(loads):.1f} at the runs' start ({data['note']}). Medians (min–max):", "",
        "| figure | target | measured | |", "|---|---|---|---|",
        f"| events ingested per second, sustained, publishers as fast as the broker takes them | ≥ 5,000/s | "
        f"{fmt_spread(rate, 0, '/s')} | {met(spread(rate)['median'] >= 5000)} |",
        f"| a hall's commit → visible in the supervision view, p99, at "
        f"{spread([r['published_per_s'] for r in steady])['median']:,.0f} events/s | ≤ 2,000 ms | "
        f"{fmt_spread(p99, 0, ' ms')} | {met(spread(p99)['median'] <= 2000)} |",
        f"| CPU per 1,000 events at 5,000/s: platform / PostgreSQL / NATS | – | {cpu('platform', steady)} / "
        f"{cpu('postgresql', steady)} / {cpu('nats', steady)} | |"])


def floor(data: dict) -> str:
    """bench_floor.py beside bench_call.py in one run_all file: what a request costs at 100 a second before hallq's
    own work (Granian alone, GET /health), set against the call (docs/performance.md, eighth pass)."""
    bench = data["benchmarks"]
    rounds = [r for run in bench["floor"]["runs"] if run["ok"] for r in run["result"]["runs"]]
    granian = [r["granian"]["server_cpu_ms_per_request"] for r in rounds]
    calls = [run["result"]["server_cpu_ms_per_call"] for run in bench["call"]["runs"] if run["ok"]]
    brokers = {run["result"]["system"]["broker_choice"] for name in ("floor", "call") for run in bench[name]["runs"]
               if run["ok"]}
    return "\n".join([
        f"{data['machine']['date']}, commit `{str(data['git'])[:7]}`, broker as each run read it from the server: "
        f"{', '.join(sorted(brokers))} (the hall's own); median (min–max):", "",
        "| the server answers, paced at 100 a second | server CPU per request |", "|---|---|",
        f"| Granian alone, `hallq serve`'s settings, an app answering `{{}}` ({len(rounds)} rounds of "
        f"{len(bench['floor']['runs'])} runs) | {fmt_spread(granian, 2, ' ms')} |",
        f"| the hall's server, `GET /api/v1/health` for a kiosk ({len(rounds)} rounds) | "
        f"{fmt_spread([r['health']['server_cpu_ms_per_request'] for r in rounds], 2, ' ms')} |",
        f"| the hall's server, call next with completion (`bench_call.py`, {len(calls)} runs) | "
        f"{fmt_spread(calls, 2, ' ms')} |"])


def schedule(data: dict) -> str:
    """profile_threads.py's runs: each thread role's CPU per call and the times its threads were put on a core per
    call, beside bench_call.py's whole-run figure (docs/performance.md, ninth pass)."""
    runs = data["runs"]
    brokers = {r["system"]["broker_choice"] for r in runs}
    roles = (("request_threads", "the request threads (Granian's blocking threads, running Python)", 2),
             ("publisher", "the MQTT publisher", 3), ("granian_io", "Granian's I/O thread", 3))
    rows = [f"| {label} | {fmt_spread([r['ms_per_call'][key] for r in runs], digits, ' ms')} | "
            f"{fmt_spread([r['times_scheduled_per_call'][key] for r in runs], 2)} |" for key, label, digits in roles]
    return "\n".join([
        f"{data['machine']['date']}, {len(runs)} runs of `bench_call.py` at 100 calls/s, broker as each run read it "
        f"from the server: {', '.join(sorted(brokers))} (the hall's own); median (min–max) per call:", "",
        "| the worker's threads | CPU per call | times put on a core per call |", "|---|---|---|", *rows, "",
        f"`bench_call.py` counted {fmt_spread([r['bench_call_server_cpu_ms_per_call'] for r in runs], 2, ' ms')} "
        "per call over its whole runs."])


def compared(data: dict) -> str:
    """compare.py's pairs of bench_call.py: the server CPU per call at 100 calls/s, base against head."""
    call = data["benchmarks"]["call"]
    cpu, lost = call["figures"]["server_cpu_ms_per_call"], call["figures"]["calls_not_received"]
    brokers = {r["system"]["broker_choice"] for side in ("base", "head") for r in call["runs"][side]}
    return (f"{data['machine']['date']}, base `{data['base']}` against head `{data['head']}`, "
            f"{len(cpu['base_runs'])} pairs in turns, broker as each run read it from the server: "
            f"{', '.join(sorted(brokers))}: server CPU per call at 100 calls/s "
            f"{fmt_spread(cpu['base_runs'], 3, ' ms')} → {fmt_spread(cpu['head_runs'], 3, ' ms')}; calls whose event "
            f"never arrived: {int(max(lost['base_runs'] + lost['head_runs']))} at most in any run.")
