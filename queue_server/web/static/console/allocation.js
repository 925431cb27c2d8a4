/* The allocation matrix: a change of rank sends the window's whole ranked list
 * (PUT /api/v1/windows/<n>/allocation), effective for its next call. */
"use strict";
(function () {
  const { api, flash, live, t, pageData } = window.hallq;
  const data = pageData();
  const matrix = document.getElementById("matrix");
  let lastSeen = JSON.stringify(data.windows.map((w) => [w.number, w.serves, w.state]));

  function serves(row) {
    const picked = Array.from(row.querySelectorAll("select")).map((s, i) => ({ code: s.dataset.business, rank: +s.value, i }))
      .filter((x) => x.rank > 0);
    picked.sort((a, b) => a.rank - b.rank || a.i - b.i);
    return picked.map((x) => x.code);
  }

  matrix.addEventListener("change", async (ev) => {
    const row = ev.target.closest("tr[data-window]");
    if (!row) return;
    const n = row.dataset.window, list = serves(row);
    try {
      const r = await api("PUT", `/windows/${n}/allocation`, { serves: list });
      flash(t("web.allocation.window_updated", { n }), "ok");
      showRow(row, r.window.serves);
    } catch (e) { flash(e.message, "bad"); refresh(); }
  });

  matrix.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-open], button[data-close]");
    if (!b) return;
    const n = b.dataset.open || b.dataset.close, action = b.dataset.open ? "open" : "close";
    if (action === "close" && !(await window.hallq.sureToClose(n))) return;
    try { await api("POST", `/windows/${n}/${action}`, {}); location.reload(); } catch (e) { flash(e.message, "bad"); }
  });

  function showRow(row, list) {
    row.querySelectorAll("select").forEach((s) => { const i = list.indexOf(s.dataset.business); s.value = String(i + 1); });
  }

  async function refresh() {
    try {
      const windows = await api("GET", "/windows");
      const seen = JSON.stringify(windows.map((w) => [w.number, w.serves, w.state]));
      if (seen === lastSeen) return;
      lastSeen = seen;
      if (document.activeElement && document.activeElement.tagName === "SELECT") return; // don't move what the manager is editing
      for (const w of windows) {
        const row = matrix.querySelector(`tr[data-window="${w.number}"]`);
        if (row) showRow(row, w.serves);
      }
    } catch (e) { /* the live dot shows a lost connection */ }
  }
  live(refresh, { intervalMs: 2000 });
})();
