/* Hall settings: business rows, CSV import, opening periods, holidays, appointment capacity. */
"use strict";
(function () {
  const { api, el, flash, t } = window.hallq;
  const reload = () => setTimeout(() => location.reload(), 500);
  const $$ = (sel) => Array.from(document.querySelectorAll(sel));
  const periods = (text) => text.split(/[,，;；\s]+/).map((s) => s.trim()).filter(Boolean);
  async function go(method, path, body, ok) {
    try { const r = await api(method, path, body); flash(ok || t("web.common.saved"), "ok"); reload(); return r; }
    catch (e) { flash(e.message, "bad"); showProblems(e.detail && e.detail.problems); return null; }
  }
  function showProblems(list) {
    const box = document.getElementById("problems");
    if (!box) return;
    box.hidden = !(list && list.length);
    document.getElementById("problem-list").replaceChildren(...(list || []).map((p) =>
      el("li", {}, t("web.settings.import_problem", { line: p.line, column: p.column, problem: p.problem }))));
  }

  $$("tr[data-business] button[data-save]").forEach((b) => b.addEventListener("click", () => {
    const row = b.closest("tr"), body = {};
    for (const k of ["daily_limit", "service_minutes"]) body[k] = parseInt(row.querySelector(`[name=${k}]`).value, 10);
    body.targets = {};
    row.querySelectorAll("[data-target]").forEach((i) => { body.targets[i.name] = parseInt(i.value, 10); });
    body.ticket_requires = row.querySelector("[name=ticket_requires]").value;
    body.active = row.querySelector("[name=active]").checked;
    go("PUT", `/settings/businesses/${row.dataset.business}`, body);
  }));

  $$("input[type=file][data-import]").forEach((input) => input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    const meta = document.querySelector('meta[name="csrf-token"]');
    try {
      const resp = await fetch("/api/v1" + input.dataset.import, { method: "POST", credentials: "same-origin", body: await file.arrayBuffer(),
        headers: { "Content-Type": "text/csv", "X-CSRF-Token": meta ? meta.content : "", "Accept-Language": window.hallq.lang } });
      const json = await resp.json();
      if (!resp.ok) { flash(json.error.message, "bad"); showProblems(json.error.detail.problems); return; }
      flash(t("web.settings.imported_counts", { added: json.added, updated: json.updated }), "ok");
      reload();
    } catch (e) { flash(e.message, "bad"); } finally { input.value = ""; }
  }));

  $$("form[data-hours]").forEach((f) => f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = f.dataset.hours || f.key.value, list = periods(f.periods.value);
    go("PUT", `/settings/hours/${key}`, { periods: list.length || key === "workdays" ? list : null });
  }));
  $$("button[data-revert]").forEach((b) => b.addEventListener("click", () => go("PUT", `/settings/hours/${b.dataset.revert}`, { periods: null })));

  const day = document.getElementById("form-day");
  if (day) day.addEventListener("submit", (ev) => {
    ev.preventDefault();
    go("PUT", `/settings/calendar/${day.day.value}`, { kind: day.kind.value, note: day.note.value });
  });
  $$("button[data-remove-day]").forEach((b) => b.addEventListener("click", () => go("PUT", `/settings/calendar/${b.dataset.removeDay}`, { kind: null })));

  $$("form[data-capacity]").forEach((f) => f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const raw = f.capacity.value, capacity = raw === "" ? null : parseInt(raw, 10);
    if (f.dataset.capacity === "default") { go("PUT", "/settings/capacity", { scope: "default", key: "", capacity }); return; }
    const [scope, key] = f.which.value.split(":");
    go("PUT", "/settings/capacity", { scope, key, capacity });
  }));
})();
