/* 帮办: the clerk files a 一件事 package (or an item another hall handles) for a resident; each bad field's sentence goes beside it. */
"use strict";
(function () {
  const { api, flash, t, pageData } = window.hallq;
  const code = pageData().package;
  const item = pageData().item;  // 就近办: an item another hall handles, filed through /applications
  const form = document.getElementById("form-package");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    form.querySelectorAll("[data-error]").forEach((e) => { e.textContent = ""; });
    const fields = {};
    form.querySelectorAll("[data-field]").forEach((input) => {
      const v = input.value.trim();
      if (v) fields[input.dataset.field] = input.dataset.type === "number" ? Number(v) : v;
    });
    const body = {
      applicant: { name: form.a_name.value.trim(), id_number: form.a_id.value.trim(), phone: form.a_phone.value.trim() },
      fields, delivery: form.querySelector("input[name=delivery]:checked").value,
      materials: Array.from(form.querySelectorAll("input[name=materials]:checked"), (i) => parseInt(i.value, 10)),
    };
    if (body.delivery === "mail") body.address = form.address.value.trim();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      if (item) body.item = item;
      const filed = await api("POST", item ? pageData().post : `/packages/${encodeURIComponent(code)}/applications`, body,
                              { idempotent: true });
      flash(t("web.package.filed", { no: filed.tracking_no }), "ok");
      location.href = `/console/backoffice/${encodeURIComponent(filed.tracking_no)}`;
    } catch (e) {
      const said = (e.detail && e.detail.fields) || {};
      Object.entries(said).forEach(([path, texts]) => {
        const box = form.querySelector(`[data-error="${path}"]`);
        if (box) box.textContent = texts[document.documentElement.lang] || texts["zh-Hans"] || "";
      });
      flash(e.message, "bad");
      button.disabled = false;
    }
  });
})();
