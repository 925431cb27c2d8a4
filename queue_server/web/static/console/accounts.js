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
      if (!confirm(t(`停用工号 ${job}？其登录将立即失效。`, `停用工號 ${job}？其登入將立即失效。`, `Deactivate ${job}? Their sessions end at once.`))) return;
      try { await api("POST", `/accounts/${job}/deactivate`); flash(t("已停用", "已停用", "Deactivated"), "ok"); reload(); } catch (e) { flash(e.message, "bad"); }
    });
    on("[data-activate]", async () => {
      try { await api("POST", `/accounts/${job}/activate`); flash(t("已启用", "已啟用", "Activated"), "ok"); reload(); } catch (e) { flash(e.message, "bad"); }
    });
    const role = row.querySelector("select[data-role]");
    if (role) role.addEventListener("change", async () => {
      try { await api("POST", `/accounts/${job}/role`, { role: role.value }); flash(t("角色已修改", "角色已修改", "Role changed"), "ok"); }
      catch (e) { flash(e.message, "bad"); reload(); }
    });
  });
  document.querySelectorAll("button[data-lift-client]").forEach((button) => {
    button.addEventListener("click", async () => {
      const body = { client: button.dataset.liftClient, job_no: button.dataset.liftJob || null };
      try { await api("POST", "/sign-in/throttles/lift", body); flash(t("已解除", "已解除", "Lifted"), "ok"); reload(); }
      catch (e) { flash(e.message, "bad"); }
    });
  });
  dlg.querySelector("[data-cancel]").addEventListener("click", () => dlg.close());
  document.getElementById("form-reset").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await api("POST", `/accounts/${target}/password`, { password: ev.target.password.value }); dlg.close();
      flash(t("密码已重置，请告知本人并提醒其登录后修改。", "密碼已重置，請告知本人並提醒其登入後修改。", "Password reset: tell them, and that it must be changed at sign-in."), "ok"); reload(); }
    catch (e) { flash(e.message, "bad"); }
  });
})();
