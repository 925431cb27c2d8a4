"use strict";
(function () {
  const { api, flash, t, pageData } = window.hallq;
  const offset = pageData().offset;
  let busy = false;  // a notice being published: until the page reloads (or it is refused)
  document.getElementById("form-notice").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target, text = {}, button = f.querySelector("button[type=submit]");
    if (busy) return;  // a double click posted the notice twice: the boards showed it twice
    busy = true;
    if (button) button.disabled = true;
    for (const k of ["zh-Hans", "zh-Hant", "en"]) if (f[k].value.trim()) text[k] = f[k].value.trim();
    const body = { text, level: f.level.value };
    if (f.until.value) body.until = f.until.value + ":00" + offset;
    try { await api("POST", "/notices", body); flash(t("web.notices.published"), "ok"); setTimeout(() => location.reload(), 500); }
    catch (e) { flash(e.message, "bad"); busy = false; if (button) button.disabled = false; }
  });
  document.querySelectorAll("button[data-delete]").forEach((b) => b.addEventListener("click", async () => {
    if (!(await window.hallq.ask(t("web.notices.sure_delete")))) return;
    try { await api("DELETE", `/notices/${b.dataset.delete}`); location.reload(); } catch (e) { flash(e.message, "bad"); }
  }));
})();
