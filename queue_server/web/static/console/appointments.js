/* The appointments page (预约管理, docs/consoles.md "Appointments"): a day's bookings, kept live; checking in (a row's
 * button, or a booking code / ID number typed at the front desk) with the number given shown large; cancelling after
 * a confirmation; booking for a resident (帮办代办) from the slots with places left; and, for managers, lifting a
 * booking suspension. Every change calls /api/v1/appointments… as the kiosks do (docs/appointments.md), with the
 * session's CSRF token; bookings, check-ins and cancellations carry an Idempotency-Key, the same one until the server
 * has answered (a double click or a retry after a lost answer acts once), a new one after (a refusal is remembered
 * under its key: the same request after, say, a lifted suspension must be a new one). */
"use strict";
(function () {
  const { api, ask, el, flash, lang, live, newKey, pageData, pick, t } = window.hallq;
  const $ = (id) => document.getElementById(id);
  const data = pageData();
  const STATUS = { booked: t("web.appointments.status_booked"), checked_in: t("web.appointments.status_checked_in"),
                   cancelled: t("web.appointments.status_cancelled"), no_show: t("web.appointments.status_no_show") };
  const TAG = { booked: "appointment", checked_in: "green", cancelled: "muted", no_show: "bad" };
  const view = { date: data.date, item: data.item || "", status: data.status || "" };
  let rows = data.rows, shown = "", asked = 0, busy = false;

  const weekday = new Intl.DateTimeFormat(lang, { weekday: "short", timeZone: "UTC" });
  const dayLabel = (d) => `${d} ${weekday.format(new Date(`${d}T00:00:00Z`))}`;

  /* One Idempotency-Key for a request until the server answers it (kept when the network failed or the server
   * erred: sending it again acts at most once). */
  function keeper() {
    let held = null;
    return {
      key(sig) { if (!held || held.sig !== sig) held = { sig, key: newKey() }; return held.key; },
      answered(e) { if (!e || (e.status >= 400 && e.status < 500)) held = null; },
    };
  }

  // -- the day's list ------------------------------------------------------------------------------------------
  function render() {
    const key = JSON.stringify([view, rows]);
    if (key === shown) return;  // nothing new: the rows (and the focus on one of their buttons) stay
    shown = key;
    const today = view.date === data.today;
    const count = (s) => rows.filter((r) => r.status === s).length;
    $("counts").replaceChildren(t("web.appointments.count_total", { n: rows.length }),
      ...data.statuses.flatMap((s) => [" ", el("span", { class: `tag ${TAG[s]}` }, `${STATUS[s]} ${count(s)}`)]));
    $("only-today").hidden = today || !rows.some((r) => r.status === "booked");
    const wanted = view.status ? rows.filter((r) => r.status === view.status) : rows;
    $("rows").replaceChildren(...(wanted.length ? wanted.map((a) => row(a, today))
      : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("web.appointments.no_bookings")))]));
  }

  function row(a, today) {
    const actions = [];
    if (a.status === "booked" && today) {
      actions.push(el("button", { type: "button", class: "primary", "data-check-in": a.code,
        "aria-label": t("web.appointments.check_in_code", { code: a.code }),
        onclick: () => checkIn({ code: a.code }, null) }, t("web.appointments.check_in")));
    }
    if (a.status === "booked" && a.date >= data.today) {
      actions.push(el("button", { type: "button", class: "danger", "data-cancel": a.code,
        "aria-label": t("web.appointments.cancel_code", { code: a.code }),
        onclick: () => cancel(a) }, t("web.appointments.cancel_booking")));
    }
    const ticket = a.checked_in_ticket ? el("strong", { class: "ticket" }, a.checked_in_ticket.ticket) : null;
    return el("tr", { "data-code": a.code },
      el("td", { class: "nowrap" }, `${a.start}–${a.end}`), el("td", {}, pick(a.item_name)),
      el("td", { class: "nowrap" }, a.name_masked), el("td", { class: "code" }, a.code),
      el("td", { class: "nowrap" }, el("span", { class: `tag ${TAG[a.status]}` }, STATUS[a.status]), ticket ? " " : "", ticket),
      el("td", {}, el("div", { class: "row-actions" }, actions)));
  }

  async function refresh() {
    const mine = ++asked;
    const q = new URLSearchParams({ date: view.date });
    if (view.item) q.set("item", view.item);
    try {
      const answer = await api("GET", `/appointments?${q}`);
      if (mine !== asked) return;  // the filter changed meanwhile: a later answer is the one shown
      rows = answer;
      render();
    } catch (e) { if (mine === asked) flash(e.message, "bad"); }
  }

  function setView(changes) {
    Object.assign(view, changes);
    const q = new URLSearchParams(location.search);
    for (const k of ["date", "item", "status"]) { if (view[k]) q.set(k, view[k]); else q.delete(k); }
    q.delete("lang");  // kept in its cookie
    history.replaceState(null, "", `${location.pathname}?${q}`);
  }

  function showDay(day) {
    $("f-date").value = day;
    setView({ date: day });
    refresh();
  }

  $("f-date").addEventListener("change", () => { if ($("f-date").value) showDay($("f-date").value); });
  $("btn-today").addEventListener("click", () => showDay(data.today));
  $("f-item").addEventListener("change", () => { setView({ item: $("f-item").value }); refresh(); });
  $("f-status").addEventListener("change", () => { setView({ status: $("f-status").value }); render(); });
  $("form-filter").addEventListener("submit", (ev) => ev.preventDefault());

  // -- checking in ---------------------------------------------------------------------------------------------
  const checkInKey = keeper();
  const dialog = $("dlg-ticket");
  let returnFocus = null;

  function showTicket(tk) {
    $("ticket-number").textContent = tk.ticket;
    const ahead = tk.people_ahead == null ? null : t("web.appointments.people_ahead", { n: tk.people_ahead });
    $("ticket-info").textContent = [pick(tk.business_name), ahead].filter(Boolean).join(" · ");
    returnFocus = document.activeElement;
    dialog.showModal();
    dialog.querySelector("[data-close]").focus();
  }
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    const back = returnFocus && document.contains(returnFocus) ? returnFocus : $("ci-code");
    back.focus();
  });

  /** Check in by ``body`` ({code} or {id_number}); a refusal goes to ``errorBox`` (the form's), else to the flash. */
  async function checkIn(body, errorBox) {
    if (busy) return false;
    busy = true;
    try {
      const tk = await api("POST", "/appointments/check-in", body,
                           { idempotent: true, key: checkInKey.key(JSON.stringify(body)) });
      checkInKey.answered();
      flash(t("web.appointments.checked_in", { ticket: tk.ticket }), "ok");
      showTicket(tk);
      refresh();
      return true;
    } catch (e) {
      checkInKey.answered(e);
      if (errorBox) errorBox.textContent = e.message; else flash(e.message, "bad");
      return false;
    } finally { busy = false; }
  }

  $("form-checkin").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("ci-code"), raw = input.value.trim(), box = $("ci-error");
    box.textContent = "";
    input.removeAttribute("aria-invalid");
    if (!raw) { box.textContent = t("web.appointments.type_code_or_id"); input.setAttribute("aria-invalid", "true"); return; }
    const compact = raw.replace(/[\s-]/g, "");
    // an ID number: 18 characters (the last may be X) or the old 15 digits; anything else is a code or its QR text
    const body = /^(\d{17}[\dXx]|\d{15})$/.test(compact) ? { id_number: compact } : { code: raw };
    if (await checkIn(body, box)) input.value = "";  // an ID number stays on the screen no longer than needed
    else input.setAttribute("aria-invalid", "true");
  });

  // -- cancelling ----------------------------------------------------------------------------------------------
  const cancelKey = keeper();

  async function cancel(a) {
    if (busy) return;
    const sure = await ask(t("web.appointments.sure_cancel", { name: a.name_masked, date: a.date, start: a.start,
                                                               code: a.code }));
    if (!sure || busy) return;
    busy = true;
    try {
      await api("POST", `/appointments/${encodeURIComponent(a.code)}/cancel`, {},
                { idempotent: true, key: cancelKey.key(a.code) });
      cancelKey.answered();
      flash(t("web.appointments.cancelled", { code: a.code }), "ok");
      refresh();
      if (booking && booking.item() === a.item) booking.reload();  // its place is free again
    } catch (e) { cancelKey.answered(e); flash(e.message, "bad"); }
    finally { busy = false; }
  }

  // -- booking for a resident (帮办代办) -----------------------------------------------------------------------
  const booking = $("form-book") ? bookingForm($("form-book")) : null;

  function bookingForm(form) {
    const bookable = new Set(data.items.map((i) => i.code));
    const itemSel = $("bk-item"), daySel = $("bk-day"), slotSel = $("bk-slot"), submit = form.querySelector("[type=submit]");
    const INPUT = { item: itemSel, date: daySel, start: slotSel, name: $("bk-name"), id_number: $("bk-id"),
                    phone: $("bk-phone") };
    // where a refusal without a field of its own is shown
    const FIELD_OF = { slot_full: "start", no_such_slot: "start", too_soon: "date", too_far_ahead: "date",
                       not_a_working_day: "date", one_per_day: "id_number", booking_suspended: "id_number",
                       not_bookable: "item", unknown_item: "item" };
    const bookKey = keeper();
    let slots = null, slotAsk = 0, shownItem = "", bookedDay = null, sending = false;

    function showError(field, text) {
      const box = form.querySelector(`[data-error="${field}"]`);
      if (!box || !INPUT[field]) return false;
      box.textContent = text;
      INPUT[field].setAttribute("aria-invalid", "true");
      return true;
    }
    function clearErrors(...fields) {
      for (const f of fields.length ? fields : Object.keys(INPUT)) {
        form.querySelector(`[data-error="${f}"]`).textContent = "";
        INPUT[f].removeAttribute("aria-invalid");
      }
      if (!fields.length) $("bk-error").textContent = "";
    }

    // item_search.js fills the select with whatever the search found: only the bookable items stay
    function keepBookable() {
      for (const o of Array.from(itemSel.options)) if (o.value && !bookable.has(o.value)) o.remove();
      const first = Array.from(itemSel.options).find((o) => o.value);
      if (!first && itemSel.options.length) itemSel.options[0].textContent = t("web.appointments.no_bookable_found");
      if (!bookable.has(itemSel.value) && first) itemSel.value = first.value;
      if (itemSel.value !== shownItem) { clearErrors("item", "date", "start"); load(); }
    }
    new MutationObserver(keepBookable).observe(itemSel, { childList: true });
    itemSel.addEventListener("change", () => { clearErrors("item", "date", "start"); load(); });
    daySel.addEventListener("change", () => { clearErrors("date", "start"); fillSlots(); });
    slotSel.addEventListener("change", () => clearErrors("start"));

    /** The item's days and slots with the places left; ``keep`` = {date, start} to choose again if still free. */
    async function load(keep) {
      const item = itemSel.value, mine = ++slotAsk;
      shownItem = item;
      slots = null;
      daySel.replaceChildren(el("option", { value: "" }, item ? t("web.appointments.loading") : "—"));
      slotSel.replaceChildren(el("option", { value: "" }, "—"));
      if (!item) return;
      let answer;
      try { answer = await api("GET", `/appointments/slots?item=${encodeURIComponent(item)}`); }
      catch (e) {
        if (mine !== slotAsk) return;
        daySel.replaceChildren(el("option", { value: "" }, "—"));
        showError("item", e.message);
        return;
      }
      if (mine !== slotAsk) return;  // another item was chosen meanwhile
      slots = answer;
      const days = answer.days.filter((d) => d.bookable);
      const free = (d) => d.slots.some((s) => s.available);
      daySel.replaceChildren(...(days.length ? days.map((d) => el("option", { value: d.date, disabled: !free(d) },
        free(d) ? dayLabel(d.date) : t("web.appointments.day_full", { day: dayLabel(d.date) })))
        : [el("option", { value: "" }, t("web.appointments.no_days"))]));
      const kept = keep && days.find((d) => d.date === keep.date && free(d));
      const first = days.find(free);
      daySel.value = kept ? kept.date : first ? first.date : "";
      fillSlots(keep && keep.start);
    }

    function fillSlots(keepStart) {
      const day = slots && slots.days.find((d) => d.date === daySel.value);
      const list = day ? day.slots : [];
      slotSel.replaceChildren(el("option", { value: "" }, list.length ? t("web.appointments.choose_slot") : "—"),
        ...list.map((s) => el("option", { value: s.start, disabled: !s.available },
          s.available ? t("web.appointments.slot_left", { start: s.start, end: s.end, n: s.remaining })
            : s.remaining > 0 ? t("web.appointments.slot_past", { start: s.start, end: s.end })
              : t("web.appointments.slot_full", { start: s.start, end: s.end }))));
      slotSel.value = list.some((s) => s.start === keepStart && s.available) ? keepStart : "";
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (sending) return;
      clearErrors();
      $("bk-done").hidden = true;  // the last booking's code is not this one's
      const body = { item: itemSel.value, date: daySel.value, start: slotSel.value };
      for (const f of ["name", "id_number", "phone"]) body[f] = INPUT[f].value.trim();
      const empty = [["item", t("web.appointments.choose_item_first")], ["date", t("web.appointments.choose_day_first")],
                     ["start", t("web.appointments.choose_slot_first")], ["name", t("web.appointments.required")],
                     ["id_number", t("web.appointments.required")], ["phone", t("web.appointments.required")]]
        .filter(([f]) => !body[f]);
      if (empty.length) {
        empty.forEach(([f, text]) => showError(f, text));
        INPUT[empty[0][0]].focus();
        return;
      }
      sending = true;
      submit.disabled = true;
      try {
        const a = await api("POST", "/appointments", body, { idempotent: true, key: bookKey.key(JSON.stringify(body)) });
        bookKey.answered();
        bookedDay = a.date;
        $("bk-code").textContent = a.code;
        $("bk-info").textContent = t("web.appointments.booked_info", { day: dayLabel(a.date), start: a.start, end: a.end,
                                                                       item: pick(a.item_name), name: a.name_masked });
        $("bk-done").hidden = false;
        $("bk-done").scrollIntoView({ block: "nearest" });
        // the next resident's data starts empty; the item and the day stay for the next booking
        for (const f of ["name", "id_number", "phone"]) INPUT[f].value = "";
        load({ date: a.date });
        if (a.date === view.date) refresh();
      } catch (e) {
        bookKey.answered(e);
        const fields = (e.detail && e.detail.fields) || {};
        let placed = false;
        for (const [path, texts] of Object.entries(fields)) placed = showError(path, pick(texts)) || placed;
        if (!placed && FIELD_OF[e.code]) placed = showError(FIELD_OF[e.code], e.message);
        if (!placed) $("bk-error").textContent = e.message;
        const bad = Object.keys(INPUT).find((f) => INPUT[f].getAttribute("aria-invalid") === "true");
        if (["slot_full", "no_such_slot", "too_soon", "too_far_ahead", "not_a_working_day"].includes(e.code)) {
          await load({ date: body.date, start: body.start });  // the places left now: a full slot can no longer be chosen
        }
        if (bad) INPUT[bad].focus();
      } finally { sending = false; submit.disabled = false; }
    });

    $("btn-show-day").addEventListener("click", () => {
      if (!bookedDay) return;
      showDay(bookedDay);
      $("list-h").scrollIntoView({ block: "start" });
    });

    return { item: () => shownItem, reload: () => load({ date: daySel.value, start: slotSel.value }) };
  }

  // -- lifting a booking suspension (managers; the API refuses anyone else) ------------------------------------
  const lift = $("form-lift");
  if (lift) {
    lift.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = $("lift-id"), out = $("lift-result"), id = input.value.trim();
      const say = (text, kind) => { out.textContent = text; out.className = kind; };
      input.removeAttribute("aria-invalid");
      if (!id) { say(t("web.appointments.required"), "error"); input.setAttribute("aria-invalid", "true"); return; }
      const button = lift.querySelector("[type=submit]");
      button.disabled = true;
      try {
        const r = await api("POST", "/appointments/suspensions/lift", { id_number: id });
        input.value = "";
        if (r.lifted) say(t("web.appointments.lifted", { n: r.lifted }), "ok");
        else say(t("web.appointments.nothing_to_lift"), "muted");
      } catch (e) { say(e.message, "error"); input.setAttribute("aria-invalid", "true"); }
      finally { button.disabled = false; }
    });
  }

  render();
  live(refresh, { refreshSeconds: 30 });
})();
