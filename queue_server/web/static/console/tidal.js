"use strict";
(function () {
  const { api, flash, live, t } = window.hallq;
  const reload = () => setTimeout(() => location.reload(), 400);
  const auto = document.getElementById("auto");
  auto.addEventListener("change", async () => {
    try { await api("PUT", "/tidal/auto", { auto_assign: auto.checked }); flash(t("web.common.saved"), "ok"); }
    catch (e) { flash(e.message, "bad"); auto.checked = !auto.checked; }
  });
  document.querySelectorAll("button[data-assign]").forEach((b) => b.addEventListener("click", async () => {
    const n = b.dataset.assign, business = document.querySelector(`select[data-assign-business="${n}"]`).value;
    try { await api("POST", `/tidal/windows/${n}/assign`, { business }); flash(t("web.tidal.lent"), "ok"); reload(); }
    catch (e) { flash(e.message, "bad"); }
  }));
  document.querySelectorAll("button[data-release]").forEach((b) => b.addEventListener("click", async () => {
    try { await api("POST", `/tidal/windows/${b.dataset.release}/release`, {}); flash(t("web.tidal.given_back"), "ok"); reload(); }
    catch (e) { flash(e.message, "bad"); }
  }));
  const seen = document.getElementById("seen");
  if (seen) seen.addEventListener("click", async () => { try { await api("POST", "/tidal/alerts/seen", {}); reload(); } catch (e) { flash(e.message, "bad"); } });
  // reload when the tidal state changes (an automatic assignment, another manager's change)
  let seenState = null;
  live(async () => {
    try {
      const v = await api("GET", "/tidal");
      const state = JSON.stringify([v.auto_assign, v.pressure, v.assignments, v.unseen]);
      if (seenState !== null && state !== seenState && !document.querySelector("select:focus")) location.reload();
      seenState = state;
    } catch (e) { /* the live dot shows it */ }
  }, { intervalMs: 3000, refreshSeconds: 60 });
})();
