/* A 一件事 package at the comprehensive window: accept all, one correction notice, or refuse all. */
"use strict";
(function () {
  const { api, flash, t, pageData } = window.hallq;
  const no = pageData().tracking_no;
  document.querySelectorAll("form[data-to]").forEach((f) => f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { to: f.dataset.to };
    const reason = f.querySelector("[name=reason]");
    if (reason && reason.value.trim()) body.reason = reason.value.trim();
    if (body.to === "correction") {
      body.missing = Array.from(f.querySelectorAll("input[name=missing]:checked"), (i) => i.value)
        .concat(f.more.value.split("\n").map((s) => s.trim()).filter(Boolean));
    }
    const button = f.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api("POST", `/packages/applications/${encodeURIComponent(no)}/review`, body);
      flash(t("web.package.reviewed"), "ok");
      setTimeout(() => location.reload(), 500);
    } catch (e) { flash(e.message, "bad"); button.disabled = false; }
  }));
  // 补正: what the resident brought, recorded for the whole package (every part whose notice asked for it)
  const sup = document.getElementById("form-supplement");
  if (sup) sup.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const materials = Array.from(sup.querySelectorAll("input[name=materials]:checked"), (i) => parseInt(i.value, 10));
    const button = sup.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api("POST", `/packages/applications/${encodeURIComponent(no)}/supplement`, { materials, fields: {} },
        { idempotent: true });
      flash(t("web.package.reviewed"), "ok");
      setTimeout(() => location.reload(), 500);
    } catch (e) { flash(e.message, "bad"); button.disabled = false; }
  });
})();
