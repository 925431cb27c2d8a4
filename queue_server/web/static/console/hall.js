/* The manager's live hall: GET /api/v1/hall/live, re-read whenever the journal moves. */
"use strict";
(function () {
  const { api, el, flash, live, pick, t, pageData, hhmm, minutesSince, attention } = window.hallq;
  const data = pageData();
  const names = Object.fromEntries(data.businesses.map((b) => [b.code, b]));
  const $ = (id) => document.getElementById(id);
  const STATE = { open: t("开放", "開放", "Open"), paused: t("暂停", "暫停", "Paused"), closed: t("关闭", "關閉", "Closed") };
  const fmt = (v, suffix) => (v === null || v === undefined ? "—" : v + (suffix || ""));
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");

  function render(h) {
    $("clock").textContent = `${t("更新于", "更新於", "Updated")} ${hhmm(h.now)}`;
    const a = h.attention, att = [];
    if (a.tidal_alerts) att.push(el("a", { href: "/manager/tidal" }, `${t("潮汐提醒", "潮汐提醒", "Tidal alerts")}: ${a.tidal_alerts}`));
    if (a.followups_overdue) att.push(el("a", { href: "/console/reviews?which=overdue" }, `${t("差评逾期", "差評逾期", "Overdue bad reviews")}: ${a.followups_overdue}`));
    if (a.followups_appeals) att.push(el("a", { href: "/console/reviews?which=appeals" }, `${t("待决申诉", "待決申訴", "Appeals to decide")}: ${a.followups_appeals}`));
    $("attention").replaceChildren(...attention(a, refresh),
      ...(att.length ? [el("div", { class: "alert-bar", role: "status" }, ...att.flatMap((x, i) => (i ? [" · ", x] : [x])))] : []));
    const d = h.today, waiting = h.queues.reduce((s, q) => s + q.waiting, 0);
    const kpis = [[t("取号", "取號", "Issued"), d.issued], [t("正在等候", "正在等候", "Waiting now"), waiting], [t("办结", "辦結", "Completed"), d.done],
      [t("过号", "過號", "No-shows"), d.no_show], [t("平均等候", "平均等候", "Avg wait"), fmt(d.avg_wait_min, t(" 分", " 分", " min"))],
      [t("90%等候", "90%等候", "p90 wait"), fmt(d.p90_wait_min, t(" 分", " 分", " min"))], [t("平均办理", "平均辦理", "Avg service"), fmt(d.avg_service_min, t(" 分", " 分", " min"))],
      [t("满意率", "滿意率", "Satisfaction"), pct(d.satisfaction)]];
    $("kpis").replaceChildren(...kpis.map(([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k))));
    $("queues").replaceChildren(...h.queues.map((q) => el("tr", { class: q.under_pressure_since ? "overdue" : "" },
      el("td", {}, `${q.prefix} ${pick(q.name)}`), el("td", { class: "num" }, q.waiting), el("td", { class: "num" }, q.green_waiting),
      el("td", { class: "num" }, fmt(q.est_wait_minutes)), el("td", { class: "num" }, fmt(minutesSince(q.oldest_arrival, h.now))),
      el("td", { class: "num" }, q.windows_serving), el("td", {}, q.last_called || "—"),
      el("td", { class: "num" }, `${q.issued}/${q.daily_limit}`),
      el("td", {}, q.under_pressure_since ? el("span", { class: "tag bad" }, t("高峰", "高峰", "Under pressure")) : "",
        q.issuing ? "" : el("span", { class: "tag muted" }, t("停止取号", "停止取號", "Not issuing"))))));
    $("windows").replaceChildren(...h.windows.map((w) => el("div", { class: "win " + w.state },
      el("div", {}, el("span", { class: "n" }, pick(w.name)), " ", el("span", { class: "state-" + w.state }, STATE[w.state]),
        w.kind === "tidal" ? el("span", { class: "tag warn" }, t("潮汐", "潮汐", "tidal")) : null),
      el("div", { class: "cur" }, w.current ? w.current.ticket : "—"),
      el("div", { class: "muted" }, w.staff ? `${w.staff.job_no} ${w.staff.name}` : t("无人签到", "無人簽到", "nobody"),
        w.held ? ` · ${t("挂起", "掛起", "held")} ${w.held}` : "", w.state === "paused" && w.pause_reason ? ` · ${w.pause_reason}` : ""),
      el("div", { class: "muted" }, w.serves.map((c) => (names[c] ? names[c].prefix : c)).join(" › ") || t("未分配业务", "未分配業務", "no business"),
        w.tidal_for ? ` · ${t("调配给", "調配給", "lent to")} ${names[w.tidal_for] ? pick(names[w.tidal_for].name) : w.tidal_for}` : ""),
      el("div", { class: "toolbar" },
        w.state === "closed" ? el("button", { type: "button", onclick: () => toggle(w.number, "open") }, t("开放", "開放", "Open"))
          : el("button", { type: "button", onclick: () => toggle(w.number, "close") }, t("关闭", "關閉", "Close"))))));
  }

  async function toggle(n, action) {
    if (action === "close" && !window.hallq.sureToClose(n)) return;
    try { await api("POST", `/windows/${n}/${action}`, {}); flash(t("已更新", "已更新", "Updated"), "ok"); await refresh(); }
    catch (e) { flash(e.message, "bad"); }
  }

  async function refresh() {
    try { render(await api("GET", "/hall/live")); } catch (e) { flash(e.message, "bad"); }
  }
  render(data.live);
  live(refresh, { intervalMs: 2000, refreshSeconds: 30 });
})();
