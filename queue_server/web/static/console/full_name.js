/* 显示全名: the applicant's full name (and the other people's names the form holds), asked for on a click and shown in place (the page's HTML holds only the
   mask). The server checks who may see it and journals each view (docs/privacy.md). */
"use strict";
(function () {
  const { flash, lang } = window.hallq;
  const button = document.getElementById("show-full-name"), shown = document.getElementById("applicant-name");
  if (!button || !shown) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    const csrf = document.querySelector('meta[name="csrf-token"]');
    try {
      const resp = await fetch(`/console/backoffice/${encodeURIComponent(button.dataset.trackingNo)}/applicant-name`, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Accept": "application/json", "Accept-Language": lang, "X-CSRF-Token": csrf ? csrf.content : "" },
      });
      const data = (resp.headers.get("Content-Type") || "").includes("json") ? await resp.json() : {};
      if (!resp.ok) throw new Error((data.error && data.error.message) || resp.statusText);
      shown.textContent = data.name;
      // other people's names on the form (新生儿, 母亲...): masked on the page, given with the applicant's
      // the waybill's recipient and phone (the phone is kept sealed: opened by this same journaled answer)
      const mail = document.getElementById("mail-recipient");
      if (mail && data.mail_to) mail.textContent = `${data.mail_to.recipient || ""} ${data.mail_to.phone || ""}`.trim();
      for (const dd of document.querySelectorAll("[data-person-field]")) {
        const full = (data.fields || {})[dd.dataset.personField];
        if (full) dd.textContent = full;
      }
      button.hidden = true;
    } catch (e) {
      flash(e.message, "bad");
      button.disabled = false;
    }
  });
})();
