/* Pages whose forms simply call the API (data-api="POST /path"); radio values "true"/"false" are booleans. */
"use strict";
(function () {
  const { api, flash, t } = window.hallq;
  document.querySelectorAll("form[data-api]").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const [method, path] = form.dataset.api.split(" ");
      const body = {};
      for (const [k, v] of new FormData(form)) {
        const input = form.querySelector(`[name="${k}"]`);
        body[k] = v === "true" ? true : v === "false" ? false : input && input.dataset.type === "int" ? parseInt(v, 10) : v;
      }
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      try {
        await api(method, path, body);
        flash(form.dataset.done || t("web.common.saved"), "ok");
        setTimeout(() => location.reload(), 500);
      } catch (e) { flash(e.message, "bad"); if (button) button.disabled = false; }
    });
  });
})();
