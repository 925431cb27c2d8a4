"""Finding an item over a big catalogue (target: catalogue search p99 ≤ 20 ms over 2,000 items, issue 12).

Makes a catalogue of ``--items`` items from the sample city hall's (each sample item again under other
districts' names and departments, guides and keywords kept), starts ``hallq serve`` on it (``--broker``,
default the hall's own), then sends ``GET /api/v1/items?q=`` for a mix of what residents and clerks type
(pinyin initials, full pinyin while it is typed, Chinese words found in names or only in materials,
several terms, punctuation), ``--rounds`` times each, one at a time on a keep-alive connection, and
reports the latency overall and by query, with the size of the answers. The index's rebuild is timed
apart, in-process, over the same catalogue.

    .venv/bin/python bench/bench_search.py [--items 2000] [--rounds 30] [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import time
import tomllib
from pathlib import Path
from urllib.parse import quote, urlsplit

from common import CITY, add_broker_option, bench_hall, emit, labels, machine, percentiles, start_server, tempdir

PLACES = ["钟山区", "水城区", "盘州市", "六枝特区", "红桥新区", "钟山经济开发区", "荷城街道", "德坞街道", "大湾镇",
          "汪家寨镇", "木果镇", "保华镇", "大河镇", "月照乡", "双戛乡", "阿戛镇", "南开乡", "青林乡", "金盆乡", "玉舍镇"]
QUERIES = ["yl", "y", "sb", "ylbx", "yanglao", "yangl", "shebao", "社保", "养老", "养老保险", "身份证", "营业执照",
           "清算报告", "医保 异地", "登记", "企业", "qysl", "户口", "钟山区", "pension", "证明", "zzz", '"*NEAR(']


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"


def big_catalogue(hall_toml: Path, items: int) -> int:
    """Replace the bench hall's services.toml with ``items`` items made from the sample's; how many it holds."""
    sample = tomllib.loads((CITY / "services.toml").read_text(encoding="utf-8"))
    base = list(sample["items"])
    out = []
    for n in range(items):
        item = dict(base[n % len(base)])
        copy = n // len(base)
        if copy:
            place = PLACES[(copy - 1) % len(PLACES)] + ("" if copy <= len(PLACES) else str(copy))
            item["code"] = f"{item['code']}-{copy:03d}"
            item["name"] = {k: f"{v}（{place}）" if k != "en" else f"{v} ({copy})" for k, v in item["name"].items()}
            if "department" in item:
                item["department"] = item["department"].replace("六盘水市", place).replace("钟山区", place)
        out.append("[[items]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in item.items()))
    (hall_toml.parent / "services.toml").write_text("\n".join(out), encoding="utf-8")
    return len(out)


def rebuild_ms(hall_toml: Path, work: Path) -> dict:
    """The index's rebuild over the catalogue, in-process (what applying the config adds to a start)."""
    from queue_server.app import create_app
    from queue_server.domain import search

    app = create_app(hall_toml, data_dir=work / "rebuild", mqtt=False, housekeeping=False)
    st = app.extensions["hallq"]
    try:
        times = []
        for _ in range(3):
            with st.db.write() as conn:
                t0 = time.perf_counter()
                indexed = search.rebuild(conn, lambda k, v: None)
                times.append((time.perf_counter() - t0) * 1000)
        return {"items": indexed, "median_ms": round(sorted(times)[1], 1)}
    finally:
        st.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=30, help="requests per query")
    add_broker_option(ap)
    args = ap.parse_args()
    work = tempdir()
    try:
        hall = bench_hall(work)
        count = big_catalogue(hall, args.items)
        rebuild = rebuild_ms(hall, work)
        server = start_server(work, broker=args.broker, config=hall)
        try:
            system = labels(server)
            u = urlsplit(server.url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            by_query, every, sizes = {}, [], {}
            for q in QUERIES:  # once each first: the first answers warm the page cache
                conn.request("GET", f"/api/v1/items?q={quote(q)}")
                conn.getresponse().read()
            for q in QUERIES:
                samples, statuses = [], {}
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    conn.request("GET", f"/api/v1/items?q={quote(q)}")
                    resp = conn.getresponse()
                    body = resp.read()
                    samples.append((time.perf_counter() - t0) * 1000)
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                sizes[q] = {"found": len(json.loads(body)), "bytes": len(body)}
                by_query[q] = {**percentiles(samples), "status": statuses, **sizes[q]}
                every += samples
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    overall = percentiles(every)
    bad = {q: r["status"] for q, r in by_query.items() if set(r["status"]) != {200}}
    emit({"benchmark": "item search, GET /api/v1/items?q= (20 results at most), one keep-alive client, real server",
          "system": system, "items": count, "rounds_per_query": args.rounds, "overall": overall,
          "target_p99_ms": 20, "within_target": overall["p99_ms"] <= 20 and not bad, "unexpected_status": bad,
          "index_rebuild": rebuild, "by_query": by_query, "machine": machine()})


if __name__ == "__main__":
    main()
