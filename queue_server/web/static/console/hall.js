/* The manager's live hall: GET /api/v1/hall/live, re-read whenever the journal moves. */
"use strict";
(function () {
  const { api, el, flash, live, pick, t, pageData, hhmm, minutesSince, attention } = window.hallq;
  const data = pageData();
  const names = Object.fromEntries(data.businesses.map((b) => [b.code, b]));
  const $ = (id) => document.getElementById(id);
  const STATE = { open: t("web.common.open"), paused: t("web.common.paused"), closed: t("web.common.closed") };
  const fmt = (v, suffix) => (v === null || v === undefined ? "—" : v + (suffix || ""));
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");

  function render(h) {
    $("clock").textContent = `${t("web.hall.updated_at")} ${hhmm(h.now)}`;
    const a = h.attention, att = [];
    if (a.tidal_alerts) att.push(el("a", { href: "/manager/tidal" }, `${t("web.hall.tidal_alerts")}: ${a.tidal_alerts}`));
    if (a.followups_overdue) att.push(el("a", { href: "/console/reviews?which=overdue" }, `${t("web.hall.overdue_bad_reviews")}: ${a.followups_overdue}`));
    if (a.followups_appeals) att.push(el("a", { href: "/console/reviews?which=appeals" }, `${t("web.hall.appeals_to_decide")}: ${a.followups_appeals}`));
    $("attention").replaceChildren(...attention(a, refresh),
      ...(att.length ? [el("div", { class: "alert-bar", role: "status" }, ...att.flatMap((x, i) => (i ? [" · ", x] : [x])))] : []));
    const d = h.today, waiting = h.queues.reduce((s, q) => s + q.waiting, 0);
    const kpis = [[t("web.common.issued"), d.issued], [t("web.hall.waiting_now"), waiting], [t("web.common.completed"), d.done],
      [t("web.common.no_shows"), d.no_show], [t("web.hall.avg_wait"), fmt(d.avg_wait_min, t("web.hall.min_suffix"))],
      [t("web.common.p90_wait"), fmt(d.p90_wait_min, t("web.hall.min_suffix"))], [t("web.hall.avg_service"), fmt(d.avg_service_min, t("web.hall.min_suffix"))],
      [t("web.common.satisfaction"), pct(d.satisfaction)]];
    $("kpis").replaceChildren(...kpis.map(([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k))));
    $("queues").replaceChildren(...h.queues.map((q) => el("tr", { class: q.under_pressure_since ? "overdue" : "" },
      el("td", {}, `${q.prefix} ${pick(q.name)}`), el("td", { class: "num" }, q.waiting), el("td", { class: "num" }, q.green_waiting),
      el("td", { class: "num" }, fmt(q.est_wait_minutes)), el("td", { class: "num" }, fmt(minutesSince(q.oldest_arrival, h.now))),
      el("td", { class: "num" }, q.windows_serving), el("td", {}, q.last_called || "—"),
      el("td", { class: "num" }, `${q.issued}/${q.daily_limit}`),
      el("td", {}, q.under_pressure_since ? el("span", { class: "tag bad" }, t("web.hall.under_pressure")) : "",
        q.issuing ? "" : el("span", { class: "tag muted" }, t("web.hall.not_issuing"))))));
    $("windows").replaceChildren(...h.windows.map((w) => el("div", { class: "win " + w.state },
      el("div", {}, el("span", { class: "n" }, pick(w.name)), " ", el("span", { class: "state-" + w.state }, STATE[w.state]),
        w.kind === "tidal" ? el("span", { class: "tag warn" }, t("web.common.tidal")) : null),
      el("div", { class: "cur" }, w.current ? w.current.ticket : "—"),
      el("div", { class: "muted" }, w.staff ? `${w.staff.job_no} ${w.staff.name}` : t("web.common.nobody"),
        w.held ? ` · ${t("web.hall.held")} ${w.held}` : "", w.state === "paused" && w.pause_reason ? ` · ${w.pause_reason}` : ""),
      el("div", { class: "muted" }, w.serves.map((c) => (names[c] ? `${names[c].prefix} ${pick(names[c].name)}` : c)).join(" › ") || t("web.hall.no_business"),
        w.tidal_for ? ` · ${t("web.hall.lent_to")} ${names[w.tidal_for] ? pick(names[w.tidal_for].name) : w.tidal_for}` : ""),
      el("div", { class: "toolbar" },
        w.state === "closed" ? el("button", { type: "button", onclick: () => toggle(w.number, "open") }, t("web.common.open"))
          : el("button", { type: "button", onclick: () => toggle(w.number, "close") }, t("web.common.close"))))));
  }

  async function toggle(n, action) {
    if (action === "close" && !(await window.hallq.sureToClose(n))) return;
    try { await api("POST", `/windows/${n}/${action}`, {}); flash(t("web.hall.updated"), "ok"); await refresh(); }
    catch (e) { flash(e.message, "bad"); }
  }

  async function refresh() {
    try { render(await api("GET", "/hall/live")); } catch (e) { flash(e.message, "bad"); }
  }
  render(data.live);
  live(refresh, { intervalMs: 2000, refreshSeconds: 30 });
})();
