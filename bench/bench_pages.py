"""Console pages and the calls their scripts poll, served by a real server (target: ≤ 200 ms each).

Starts ``hallq serve`` on the sample city hall with its broker (``--broker``, default the hall's
own Mosquitto) and publishing on, fills a morning (tickets
issued, windows signed in, calls made), signs a manager and a clerk in
through the login form (session cookie + CSRF, like a browser), then fetches
every console page and the endpoints the pages poll, ``--requests`` times
each, one at a time on a keep-alive connection, and reports the latency.

    .venv/bin/python bench/bench_pages.py [--requests 40] [--tickets 600] [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import time
from urllib.parse import urlencode, urlsplit

from common import add_broker_option, emit, labels, machine, memory_mb, percentiles, start_server, tempdir

PAGES_MANAGER = ["/manager/hall", "/manager/allocation", "/manager/tidal", "/manager/stats",
                 "/manager/stats?group=window", "/manager/services", "/manager/calendar", "/manager/notices",
                 "/manager/accounts", "/manager/journal", "/console/reviews", "/console/backoffice"]
PAGES_CLERK = ["/console/windows", "/console/windows/1"]
OPEN_PAGES = ["/console/login", "/rate/1"]
POLLED = ["/api/v1/live", "/api/v1/console/windows/1", "/api/v1/hall/live", "/api/v1/windows"]


class Browser:
    """One keep-alive connection with a session cookie, like a console's tab."""

    def __init__(self, base: str) -> None:
        u = urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        h = {"Accept-Language": "zh-CN", **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=h)
        resp = self.conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return resp, data

    def sign_in(self, job_no: str) -> None:
        _, page = self.request("GET", "/console/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        body = urlencode({"csrf_token": token, "job_no": job_no, "password": "hallq-demo"}).encode()
        resp, _ = self.request("POST", "/console/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert resp.status == 303, resp.status


def timed(browser: Browser, path: str, n: int, headers: dict | None = None) -> dict:
    samples, statuses = [], {}
    for _ in range(n):
        t0 = time.perf_counter()
        resp, _ = browser.request("GET", path, headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
    return {**percentiles(samples), "status": statuses}


def fill_morning(url: str, tickets: int) -> None:
    from hallq.client import HallClient

    kiosk = HallClient(url, token="demo-kiosk-1")
    businesses = ["commerce", "construction", "social", "online", "delivery"]
    for i in range(tickets):
        kiosk.issue_ticket(businesses[i % len(businesses)])
    for n, job in ((1, "1001"), (7, "1007"), (8, "1008"), (13, "1013")):
        clerk = HallClient(url)
        clerk.login(job, "hallq-demo")
        clerk.window_action(n, "sign-in")
        for _ in range(15):
            clerk.call_next(n, complete_current=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=40, help="requests per page")
    ap.add_argument("--tickets", type=int, default=600)
    add_broker_option(ap)
    args = ap.parse_args()
    work = tempdir()
    server = start_server(work, broker=args.broker)
    try:
        system = labels(server)
        fill_morning(server.url, args.tickets)
        manager, clerk, anonymous = Browser(server.url), Browser(server.url), Browser(server.url)
        manager.sign_in("2001")
        clerk.sign_in("1001")
        results = {}
        for path in PAGES_MANAGER:
            results[path] = timed(manager, path, args.requests)
        for path in PAGES_CLERK:
            results[path] = timed(clerk, path, args.requests)
        for path in OPEN_PAGES:
            results[path] = timed(anonymous, path, args.requests)
        for path in POLLED:
            results[path] = timed(manager, path, args.requests)
        resp, _ = manager.request("GET", "/api/v1/live")
        results["/api/v1/live (304 while idle)"] = timed(manager, "/api/v1/live", args.requests,
                                                          {"If-None-Match": resp.headers["ETag"]})
        mem = memory_mb(server.proc.pid)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    worst = max(r["p95_ms"] for r in results.values())
    bad = {p: r["status"] for p, r in results.items() if set(r["status"]) - {200, 304}}
    emit({"benchmark": "console pages and polled endpoints, one keep-alive client, real server",
          "system": system, "requests_per_page": args.requests, "tickets_issued": args.tickets, "latency_by_path": results,
          "worst_p95_ms": worst, "target_ms": 200, "within_target": worst <= 200 and not bad,
          "unexpected_status": bad, "server_memory_mb_after": mem, "machine": machine()})


if __name__ == "__main__":
    main()
