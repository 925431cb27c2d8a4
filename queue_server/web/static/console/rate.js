/* The rating tablet at a window (评价器). It authenticates with its device key, given once as
 * /rate/<n>#key=<key> and kept in this tablet's storage; the fragment never reaches the server. */
"use strict";
(function () {
  const { el, pick, t, pageData, newKey } = window.hallq;
  const data = pageData();
  const n = data.window, store = `hallq.tablet.key.${n}`;
  const $ = (id) => document.getElementById(id);
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (m) { localStorage.setItem(store, decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname + location.search); }
  const key = localStorage.getItem(store);
  let shown = null, level = null, pending = false, thanksUntil = 0;

  const LEVELS = [[5, t("web.rate.very_satisfied"), 1], [4, t("web.rate.satisfied"), .6],
    [3, t("web.rate.basically_satisfied"), 0], [2, t("web.rate.dissatisfied"), -.6],
    [1, t("web.rate.very_dissatisfied"), -1]];

  function face(curve) {  // a simple drawn face: no emoji font needed on the tablet
    const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 64 64"); svg.setAttribute("width", "64"); svg.setAttribute("height", "64");
    svg.setAttribute("aria-hidden", "true"); svg.classList.add("face");
    const add = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); svg.append(e); };
    add("circle", { cx: 32, cy: 32, r: 29, fill: "#fff", stroke: "#111", "stroke-width": 3 });
    add("circle", { cx: 22, cy: 25, r: 4, fill: "#111" }); add("circle", { cx: 42, cy: 25, r: 4, fill: "#111" });
    add("path", { d: `M18 ${44 - curve * 4} Q32 ${44 + curve * 10} 46 ${44 - curve * 4}`, fill: "none", stroke: "#111", "stroke-width": 3.5, "stroke-linecap": "round" });
    return svg;
  }

  for (const [lv, label, curve] of LEVELS) {
    $("faces").append(el("button", { type: "button", class: "l" + lv, "data-level": lv, onclick: () => choose(lv) }, face(curve), label));
  }
  for (const r of data.reasons) {
    $("reasons").append(el("label", {}, el("input", { type: "checkbox", value: r.code }), " ", pick(r.text)));
  }
  // "其他" opens a box for the resident's own words (sent as the rating's comment)
  const other = $("reasons").querySelector('input[value="other"]');
  const showOther = () => { $("other-box").hidden = !(other && other.checked); };
  if (other) other.addEventListener("change", () => { showOther(); if (other.checked) $("comment").focus(); });

  // a phone for the call-back (回访), optional: kept only with the consent box ticked (the server refuses it otherwise)
  const showConsent = () => { $("consent-box").hidden = !$("contact").value.trim(); };
  $("contact").addEventListener("input", showConsent);

  function show(id) { for (const s of ["idle", "ask", "why", "thanks"]) $(s).hidden = s !== id; }
  function problem(text) { $("problem").textContent = text || ""; $("problem").hidden = !text; }

  async function call(method, path, body, idem) {
    const headers = { "Authorization": "Bearer " + key, "Accept-Language": window.hallq.lang, "Content-Type": "application/json" };
    if (idem) headers["Idempotency-Key"] = idem;
    const resp = await fetch("/api/v1" + path, { method, headers, credentials: "omit", body: body ? JSON.stringify(body) : undefined });
    const json = await resp.json();
    if (!resp.ok) { const e = new Error(json.error.message); e.code = json.error.code; throw e; }
    return json;
  }

  function choose(lv) {
    level = lv;
    if (lv <= 2) {
      $("reasons").querySelectorAll("input").forEach((i) => { i.checked = false; });
      $("comment").value = ""; $("contact").value = ""; $("contact-consent").checked = false; showConsent(); showOther();
      show("why");
    } else send([]);
  }
  $("why-send").addEventListener("click", () => {
    const reasons = Array.from($("reasons").querySelectorAll("input:checked"), (i) => i.value);
    send(reasons, reasons.includes("other") ? $("comment").value.trim() : "");
  });
  $("why-back").addEventListener("click", () => show("ask"));
  // 不评价: the resident declines; the tablet offers this service no more (they may still rate it by phone)
  $("decline").addEventListener("click", async () => {
    if (pending) return;
    pending = true;
    try {
      await call("POST", `/windows/${n}/rating-decline`, {}, newKey());
      problem(""); shown = null; show("idle");
    } catch (e) {
      if (e.code !== "nothing_to_rate") problem(e.message);
      shown = null; show("idle");
    } finally { pending = false; }
  });

  async function send(reasons, comment) {
    if (pending) return;
    pending = true;
    try {
      const body = comment ? { level, reasons, comment } : { level, reasons };
      const contact = level <= 2 ? $("contact").value.trim() : "";
      if (contact) { body.contact = contact; body.contact_consent = $("contact-consent").checked; }
      await call("POST", `/windows/${n}/rating`, body, newKey());
      problem(""); shown = null; thanksUntil = Date.now() + 5000; show("thanks");
    } catch (e) {
      problem(e.code === "already_rated" ? t("web.rate.already_rated") : e.message);
      // a phone refused (no consent, not a number): the resident corrects it, nothing was rated
      if (e.code !== "consent_required" && e.code !== "invalid_phone") show("idle");
    } finally { pending = false; }
  }

  async function poll() {
    try {
      const p = await call("GET", `/windows/${n}/rating-prompt`);
      problem("");
      if (Date.now() < thanksUntil) return;
      if (p.ticket) {
        if (shown !== p.ticket.ticket) { shown = p.ticket.ticket; show("ask"); }
        $("ask-ticket").textContent = `${p.ticket.ticket} · ${pick(p.ticket.business_name)}`;
      } else if (shown !== null || $("thanks").hidden === false) { shown = null; show("idle"); }
    } catch (e) {
      problem(e.message);
    } finally { setTimeout(poll, 1500); }
  }

  if (!key) {
    problem(t("web.rate.not_set_up", { n }));
  } else { show("idle"); poll(); }
})();
