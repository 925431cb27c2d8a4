/* The window console: state from GET /api/v1/console/windows/<n>, actions on /api/v1/windows/<n>/...
 * the same endpoints as the call keypads. Every action names the ticket the clerk sees
 * ({"ticket": "A012"}), so a click on a stale screen is refused rather than applied to another ticket. */
"use strict";
(function () {
  const { api, el, flash, live, pick, t, pageData, attention } = window.hallq;
  const data = pageData();
  const n = data.window;
  const $ = (id) => document.getElementById(id);
  let view = null, promptTimer = null;
  const PROMPT_SHOWN_MINUTES = 2;

  const CLASS = { green: t("web.window.green_channel"), appointment: t("web.window.appointment"), ordinary: "" };
  const STATE = { open: t("web.common.open"), paused: t("web.common.paused"), closed: t("web.common.closed") };
  const TSTATE = { called: t("web.window.called_coming"), serving: t("web.window.being_served") };

  async function refresh() {
    try { view = await api("GET", `/console/windows/${n}`); render(); }
    catch (e) {
      // the queue is only for the clerk signed in here and managers: show the window's open state
      if (e.code === "not_signed_in_here") {
        try {
          view = null;
          const [w, needs] = await Promise.all([api("GET", `/windows/${n}`), api("GET", "/attention")]);
          outside(w, needs);
          return;
        } catch (e2) { e = e2; }
      }
      flash(e.message, "bad");
    }
  }

  // Not signed in here: the window's state and "sign in here" when it is free, nothing of its queue;
  // residents asking for help and devices in trouble, as on every console.
  function outside(w, needs) {
    $("window-state").textContent = STATE[w.state] || w.state;
    $("window-state").className = "window-state state-" + w.state;
    $("window-staff").textContent = w.staff ? `${t("web.window.signed_in_label")}: ${w.staff.job_no} ${w.staff.name}` : t("web.window.nobody_signed_in");
    $("btn-signin").hidden = !!w.staff;
    $("btn-signout").hidden = true;
    const banner = $("not-here");
    banner.hidden = false;
    banner.textContent = w.staff
      ? t("web.window.staff_signed_in_private", { job_no: w.staff.job_no })
      : t("web.window.sign_in_to_see");
    $("attention").replaceChildren(...attention(forThisWindow(needs), refresh));
    $("current").replaceChildren();
    $("held").replaceChildren();
    $("rating").textContent = "";
    $("today").textContent = "";
    $("waiting-total").textContent = "";
    $("queues").replaceChildren();
    $("waiting").replaceChildren();
    document.querySelectorAll(".actions button, #held button").forEach((b) => { b.disabled = b.id !== "btn-issue"; });
  }

  // the reason's words, as the hand-issue form's own list says them (老年人, 残疾人 …)
  function greenLabel(reason) {
    const o = Array.from($("issue-green").options).find((x) => x.value === reason);
    return o ? o.textContent.trim() : reason;
  }

  // What a clerk's console shows of the hall's devices: what its clerk can act on from the counter. A kiosk's
  // printer (out of paper, jammed: residents get no ticket, any clerk can load a roll) and this window's own
  // devices (strip-<n>, keypad-<n>, pad-<n>). A kiosk's sound, an ID reader, another window's strip go to the
  // managers' live hall (/manager/hall), which lists every device, not to every clerk (docs/consoles.md).
  // Residents asking for help stay on every console: whoever is free goes.
  const OWN_DEVICE = new RegExp(`^(strip|keypad|pad)-${n}$`);
  function forThisWindow(a) {
    if (!a) return a;
    return { ...a, device_problems: (a.device_problems || []).filter((d) => d.kind === "printer" || OWN_DEVICE.test(d.device)) };
  }

  function classTag(c) { return c && c !== "ordinary" ? el("span", { class: "tag " + c }, CLASS[c]) : null; }

  function render() {
    const w = view.window, cur = view.current, here = view.signed_in_here;
    // a manager may finish what an absent clerk left here (the current number, a held one) and sign the window out
    const stand = here || view.may_finish;
    $("attention").replaceChildren(...attention(forThisWindow(view.attention), refresh));
    $("window-state").textContent = STATE[w.state] + (w.state === "paused" && w.pause_reason ? `（${w.pause_reason}）` : "");
    $("window-state").className = "window-state state-" + w.state;
    $("window-staff").textContent = w.staff ? `${t("web.window.signed_in_label")}: ${w.staff.job_no} ${w.staff.name}` : t("web.window.nobody_signed_in");
    $("btn-signin").hidden = here || !!w.staff;
    $("btn-signout").hidden = !stand || (!here && !w.staff);
    const banner = $("not-here");
    banner.hidden = here;
    banner.textContent = view.may_finish && w.staff ? t("web.window.manager_may_finish", { job_no: w.staff.job_no })
      : w.staff ? t("web.window.staff_signed_in_view_only", { job_no: w.staff.job_no })
      : t("web.window.sign_in_to_call");

    const box = $("current");
    box.replaceChildren();
    if (cur) {
      const info = [pick(cur.business_name), cur.item_name ? " · " + pick(cur.item_name) : ""].join("");
      box.append(el("div", { class: "number", id: "current-number" }, cur.ticket),
        el("div", { class: "item" }, info, " ", classTag(cur.class)),
        el("div", {}, TSTATE[cur.state] || cur.state,
          cur.state === "called" ? ` · ${t("web.window.recalls")} ${cur.recalls}/${view.max_recalls}` : "",
          ` · ${t("web.window.waited")} ${cur.waited_minutes} ${t("web.common.min")}`),
        el("div", { class: "muted" }, [cur.id_masked && `${t("web.common.id")} ${cur.id_masked}`,
          cur.phone_masked && `${t("web.common.phone")} ${cur.phone_masked}`,
          cur.green_reason && `${t("web.window.green")}: ${greenLabel(cur.green_reason)}`].filter(Boolean).join(" · ")));
    } else {
      box.append(el("div", { class: "none", id: "current-number" }, t("web.window.no_current_ticket")));
    }

    const open = w.state === "open", paused = w.state === "paused";
    const called = cur && cur.state === "called", serving = cur && cur.state === "serving";
    const enable = {
      "btn-call": here && open && !cur, "btn-recall": here && called && cur.recalls < view.max_recalls,
      "btn-start": here && called, "btn-complete": stand && !!cur, "btn-noshow": stand && called,
      "btn-transfer": stand && !!cur, "btn-hold": here && !!cur,
      "btn-rate": here && !!(view.rating && view.rating.ticket) && !view.rating.prompted,
      "btn-pause": here && open, "btn-resume": here && paused, "btn-issue": true, "btn-signout": stand && !cur && !view.held.length,
    };
    for (const [id, on] of Object.entries(enable)) $(id).disabled = !on;
    $("btn-pause").hidden = paused;
    $("btn-resume").hidden = !paused;

    const held = $("held");
    held.replaceChildren(view.held.length ? el("div", { class: "toolbar" }, view.held.map((h) =>
      el("button", { type: "button", disabled: !(stand && open && !cur), onclick: () => act("call-back", { ticket: h.ticket }, t("web.window.called_back_ticket", { ticket: h.ticket })) },
        `${t("web.window.call_back")} ${h.ticket}`))) : el("span", { class: "muted" }, t("web.common.none")));

    // "已请居民为 B006 评价" while it is news: until the next ticket is called, for PROMPT_SHOWN_MINUTES at most
    const r = view.rating;
    const asked = r && r.ticket && r.prompted && !cur && r.prompted_at
      && Date.parse(view.now) - Date.parse(r.prompted_at) < PROMPT_SHOWN_MINUTES * 60000;
    $("rating").textContent = asked ? t("web.window.asked_to_rate", { ticket: r.ticket.ticket })
      : r && r.ticket && !r.prompted ? t("web.window.may_ask_to_rate", { ticket: r.ticket.ticket })
        : t("web.window.nothing_to_rate");
    clearTimeout(promptTimer);
    if (asked) promptTimer = setTimeout(render, PROMPT_SHOWN_MINUTES * 60000 - (Date.parse(view.now) - Date.parse(r.prompted_at)) + 500);
    const d = view.today;
    $("today").textContent = `${t("web.common.completed")} ${d.done} · ${t("web.common.no_shows")} ${d.no_show}` +
      (d.avg_service_minutes != null ? ` · ${t("web.window.average_service")} ${d.avg_service_minutes} ${t("web.common.min")}` : "");

    $("waiting-total").textContent = `(${view.waiting_total})`;
    const mine = new Set(w.serves);
    $("queues").replaceChildren(...view.businesses.filter((b) => mine.has(b.code)).map((b) =>
      el("span", { class: "tag" }, `${b.prefix} ${pick(b.name)}: ${b.waiting}`)));
    const rows = view.waiting.map((x) => el("tr", { class: x.directed ? "directed" : "" },
      el("td", {}, el("strong", {}, x.ticket)),
      el("td", {}, pick(x.business_name), x.item_name ? " · " + pick(x.item_name) : "", x.directed ? el("span", { class: "tag" }, t("web.window.sent_here")) : null),
      el("td", {}, classTag(x.class)), el("td", { class: "num" }, x.waited_minutes)));
    $("waiting").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, t("web.window.nobody_waiting")))]));
  }

  // One action at a time: a double click (or a key held with a click) must not send a second
  // "call next" that the server then refuses with a red message, or worse, applies.
  let busy = false;
  async function act(action, body, done, opts) {
    if (busy) return null;
    busy = true;
    const buttons = Array.from(document.querySelectorAll(".actions button, #held button"));
    const was = buttons.map((b) => b.disabled);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const result = await api("POST", `/windows/${n}/${action}`, body || {}, opts);
      if (done) flash(typeof done === "function" ? done(result) : done, "ok");
      return result;
    } catch (e) { flash(e.message, "bad"); return null; }
    finally {
      buttons.forEach((b, i) => { b.disabled = was[i]; });
      busy = false;
      await refresh();
    }
  }
  const sure = (key, params) => window.hallq.ask(t(key, params));  // in the page (common.js)

  const expected = () => (view && view.current ? { ticket: view.current.ticket } : {});
  const actions = {
    "btn-call": () => act("call-next", {}, (r) => t("web.window.called_ticket", { ticket: r.ticket.ticket }), { idempotent: true }),
    "btn-recall": () => act("recall", expected(), t("web.window.recalled")),
    "btn-start": () => act("start", expected(), t("web.window.service_started")),
    "btn-complete": () => act("complete", expected(), t("web.window.completed")),
    "btn-noshow": async () => {
      if (!(view && view.current)) return;
      const body = expected();
      if (await sure("web.window.sure_no_show", { ticket: view.current.ticket })) {
        await act("no-show", body, t("web.window.marked_as_no_show"));
      }
    },
    "btn-hold": () => act("hold", expected(), t("web.window.on_hold")),
    "btn-rate": () => act("rating-prompt", {}, t("web.window.asked_for_a_rating")),
    "btn-resume": () => act("resume", {}, t("web.window.resumed")),
    "btn-transfer": () => { fillWindows(); openDialog("dlg-transfer"); },
    "btn-pause": () => openDialog("dlg-pause"),
    "btn-issue": () => { $("form-issue").hidden = false; $("issued").hidden = true; $("form-issue").reset(); issueKey = null; fillItems(); openDialog("dlg-issue"); },
    "btn-signin": () => act("sign-in", {}, t("web.window.signed_in")),
    "btn-signout": async () => {
      if (!(await sure("web.window.sure_sign_out"))) return;
      if (await act("sign-out", {}, t("web.window.signed_out"))) location.href = "/console/windows";
    },
  };
  for (const [id, fn] of Object.entries(actions)) $(id).addEventListener("click", fn);

  // 过号重排 at the counter: a resident who missed their call asks the clerk, not the kiosk (within the grace period;
  // the server says why when it may not: too late, once already, the day closed)
  $("form-requeue").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target, button = f.querySelector("button[type=submit]"), label = f.ticket.value.trim().toUpperCase();
    button.disabled = true;
    try {
      const tk = await api("POST", "/tickets/requeue", { ticket: label }, { idempotent: true });
      flash(t("web.window.requeued", { ticket: tk.ticket, ahead: tk.people_ahead ?? 0 }), "ok");
      f.reset();
      refresh();
    } catch (e) { flash(e.message, "bad"); }
    finally { button.disabled = false; }
  });

  // 代为弃号: a resident at the counter gives up another number of theirs (a second one taken by mistake, the wrong
  // business) or asks for it to be cancelled as they leave; waiting numbers only, journaled with the clerk and why
  $("form-cancel").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target, button = f.querySelector("button[type=submit]"), label = f.ticket.value.trim().toUpperCase();
    if (!(await sure("web.window.sure_cancel", { ticket: label }))) return;
    button.disabled = true;
    try {
      const tk = await api("POST", "/tickets/cancel", { ticket: label, reason: f.reason.value }, { idempotent: true });
      flash(t("web.window.cancelled", { ticket: tk.ticket }), "ok");
      f.reset();
      refresh();
    } catch (e) { flash(e.message, "bad"); }
    finally { button.disabled = false; }
  });

  function openDialog(id) { const d = $(id); if (!d.open) d.showModal(); }
  document.querySelectorAll("dialog [data-close]").forEach((b) => b.addEventListener("click", () => b.closest("dialog").close()));

  // transfer
  for (const b of data.businesses) $("to-business").append(el("option", { value: b.code }, `${b.prefix} ${pick(b.name)}`));
  $("form-transfer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target, body = expected();
    if (f.to_business.value) body.to_business = f.to_business.value;
    if (f.to_window.value) body.to_window = parseInt(f.to_window.value, 10);
    if (!!body.to_business === !!body.to_window) { flash(t("web.window.choose_business_or_window"), "bad"); return; }
    if (await act("transfer", body, t("web.window.transferred"))) $("dlg-transfer").close();
  });
  function fillWindows() {  // the open windows right now, other than this one
    $("to-business").value = "";
    $("to-window").replaceChildren(el("option", { value: "" }, "—"), ...(view ? view.windows : [])
      .filter((w) => w.number !== n && w.state !== "closed").map((w) => el("option", { value: w.number }, pick(w.name))));
  }

  // pause
  data.pause_reasons.forEach((r, i) => $("pause-reasons").append(el("label", {},
    el("input", { type: "radio", name: "reason", value: r, checked: i === 0 }), " ", r), el("br")));
  $("form-pause").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target, other = f.other.value.trim();
    const reason = other || (f.querySelector("input[name=reason]:checked") || {}).value;
    if (await act("pause", { reason }, t("web.window.paused"))) $("dlg-pause").close();
  });

  // issue by hand (帮办), green channel included
  for (const b of data.businesses) $("issue-business").append(el("option", { value: b.code }, `${b.prefix} ${pick(b.name)}`));
  function fillItems() {
    const items = data.items[$("issue-business").value] || [];
    $("issue-item").replaceChildren(el("option", { value: "" }, "—"), ...items.map((i) => el("option", { value: i.code }, pick(i.name))));
  }
  $("issue-business").addEventListener("change", fillItems);
  // One key per ticket being issued: a double click, or a retry after a lost answer, sends the
  // same key, so the server answers with the first ticket instead of issuing a second one.
  let issueKey = null, issuing = false;
  $("form-issue").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (issuing) return;
    const f = ev.target, body = { business: f.business.value };
    for (const k of ["item", "id_number", "phone", "green_reason"]) if (f[k].value.trim()) body[k] = f[k].value.trim();
    const sig = JSON.stringify(body);
    if (!issueKey || issueKey.sig !== sig) issueKey = { sig, key: window.hallq.newKey() };
    issuing = true;
    const submit = f.querySelector("button[type=submit]");
    if (submit) submit.disabled = true;
    try {
      const tk = await api("POST", "/tickets", body, { idempotent: true, key: issueKey.key });
      issueKey = null;
      f.id_number.value = ""; f.phone.value = "";
      $("issued-number").textContent = tk.ticket;
      $("issued-info").textContent = `${pick(tk.business_name)} · ${t("web.window.people_ahead", { n: tk.people_ahead })}` +
        (tk.class === "green" ? ` · ${CLASS.green}` : "") + ` · ${tk.issued_at.slice(11, 16)}`;
      $("form-issue").hidden = true; $("issued").hidden = false;
      flash(t("web.window.issued_ticket", { ticket: tk.ticket }), "ok");
      refresh();
    } catch (e) { flash(e.message, "bad"); }
    finally { issuing = false; if (submit) submit.disabled = false; }
  });
  $("btn-print").addEventListener("click", () => window.print());

  // keyboard shortcuts: a plain letter outside text fields and dialogs
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.repeat) return;
    const tag = (ev.target.tagName || "").toLowerCase();
    if (["input", "select", "textarea"].includes(tag) || document.querySelector("dialog[open]")) return;
    const key = ev.key.toLowerCase();
    if (key === "b") {  // call back the first held ticket, or say why not
      ev.preventDefault();
      const first = $("held").querySelector("button");
      if (!view || !view.held.length || !first) flash(t("web.window.no_held_tickets"), "bad");
      else if (view.current) flash(t("web.window.call_back_after_current", { ticket: view.current.ticket, held: view.held[0].ticket }), "bad");
      else if (first.disabled) flash(t("web.window.call_back_not_now"), "bad");
      else first.click();
      return;
    }
    const button = Array.from(document.querySelectorAll("button[data-key]")).find((b) => b.dataset.key === key && !b.hidden);
    if (button && !button.disabled) { ev.preventDefault(); button.click(); }
  });

  live(refresh, { intervalMs: 1000, refreshSeconds: 20 });
})();
