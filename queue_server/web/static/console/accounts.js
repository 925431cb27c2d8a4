"use strict";
(function () {
  const { api, flash, t, apiForms } = window.hallq;
  apiForms(document);
  const dlg = document.getElementById("dlg-reset");
  let target = null;
  const reload = () => setTimeout(() => location.reload(), 500);
  document.querySelectorAll("tr[data-job]").forEach((row) => {
    const job = row.dataset.job;
    const on = (sel, fn) => { const b = row.querySelector(sel); if (b) b.addEventListener("click", fn); };
    on("[data-reset]", () => { target = job; document.getElementById("form-reset").reset(); dlg.showModal(); });
    on("[data-deactivate]", async () => {
      if (!(await window.hallq.ask(t("web.accounts.sure_deactivate", { job })))) return;
      try { await api("POST", `/accounts/${job}/deactivate`); flash(t("web.accounts.deactivated"), "ok"); reload(); } catch (e) { flash(e.message, "bad"); }
    });
    on("[data-activate]", async () => {
      try { await api("POST", `/accounts/${job}/activate`); flash(t("web.accounts.activated"), "ok"); reload(); } catch (e) { flash(e.message, "bad"); }
    });
    const role = row.querySelector("select[data-role]");
    if (role) role.addEventListener("change", async () => {
      try { await api("POST", `/accounts/${job}/role`, { role: role.value }); flash(t("web.accounts.role_changed"), "ok"); }
      catch (e) { flash(e.message, "bad"); reload(); }
    });
  });
  document.querySelectorAll("button[data-lift-client]").forEach((button) => {
    button.addEventListener("click", async () => {
      const body = { client: button.dataset.liftClient, job_no: button.dataset.liftJob || null };
      try { await api("POST", "/sign-in/throttles/lift", body); flash(t("web.accounts.lifted"), "ok"); reload(); }
      catch (e) { flash(e.message, "bad"); }
    });
  });
  dlg.querySelector("[data-cancel]").addEventListener("click", () => dlg.close());
  document.getElementById("form-reset").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await api("POST", `/accounts/${target}/password`, { password: ev.target.password.value }); dlg.close();
      flash(t("web.accounts.password_reset_done"), "ok"); reload(); }
    catch (e) { flash(e.message, "bad"); }
  });
})();
