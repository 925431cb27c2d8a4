/* One application in the back office: each form sends one transition. */
"use strict";
(function () {
  const { api, flash, t, pageData } = window.hallq;
  const data = pageData(), no = data.tracking_no;
  const reload = () => setTimeout(() => location.reload(), 500);
  document.querySelectorAll("form[data-to]").forEach((f) => f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const to = f.dataset.to, body = { to };
    const reason = f.querySelector("[name=reason]");
    if (reason && reason.value.trim()) body.reason = reason.value.trim();
    if (to === "correction") {
      body.missing = Array.from(f.querySelectorAll("input[name=missing]:checked"), (i) => i.value)
        .concat(f.more.value.split("\n").map((s) => s.trim()).filter(Boolean));
    }
    if (to === "result_ready") body.decision = f.querySelector("input[name=decision]:checked").value;
    if (to === "delivered") {
      body.delivery = { method: f.querySelector("input[name=method]:checked").value };
      if (f.waybill.value.trim()) body.delivery.waybill = f.waybill.value.trim();
      if (body.delivery.method === "mail") {
        if (f.address && f.address.value.trim()) body.delivery.address = f.address.value.trim();
      } else {  // 出件 on site: whose ID card the clerk checked (only its mask is kept)
        body.delivery.collector = f.querySelector("input[name=collector]:checked").value;
        if (f.id_number.value.trim()) body.delivery.id_number = f.id_number.value.trim();
        if (f.collector_name.value.trim()) body.delivery.name = f.collector_name.value.trim();
      }
    }
    const button = f.querySelector("button[type=submit]");
    button.disabled = true;
    try { await api("POST", `/applications/${encodeURIComponent(no)}/transition`, body); flash(t("web.application.done"), "ok"); reload(); }
    catch (e) { flash(e.message, "bad"); button.disabled = false; }
  }));
  const sup = document.getElementById("form-supplement");
  if (sup) sup.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const materials = Array.from(sup.querySelectorAll("input[name=materials]:checked"), (i) => parseInt(i.value, 10));
    try { await api("POST", `/applications/${encodeURIComponent(no)}/supplement`, { materials, fields: {} }, { idempotent: true });
      flash(t("web.application.recorded_back_to_pre_review"), "ok"); reload(); }
    catch (e) { flash(e.message, "bad"); }
  });
})();
