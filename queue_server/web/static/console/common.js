/* hallq consoles: what every page shares. Vanilla JS, no build step, no external assets.
 *
 * hallq.api(method, path, body)  calls /api/v1 with the session cookie and the CSRF token
 * hallq.live(onChange)           polls the journal's sequence number (ETag, 304 when idle); its reads are marked
 *                                as the page's own (X-Hallq-Background), so they keep no session from its idle end
 * hallq.el(tag, attrs, ...kids)  builds DOM nodes (text is always text: no HTML injection)
 * hallq.attention(a, after)      the bars for residents asking for help and devices with a problem
 * hallq.t(key, params)           a text of the page, e.g. t("web.window.called_ticket", { ticket: "A001" })
 */
"use strict";
(function () {
  const meta = (name) => { const m = document.querySelector(`meta[name="${name}"]`); return m ? m.content : ""; };
  const lang = meta("lang") || "zh-Hans";

  function pick(texts) {
    if (texts == null) return "";
    if (typeof texts === "string") return texts;
    return texts[lang] || texts["zh-Hans"] || Object.values(texts)[0] || "";
  }

  // the page's texts, in its language: the keys its scripts use, rendered by the server from the catalogues
  // (hallq/locale/<lang>/web.po) into <script type="application/json" id="messages">
  const messages = (() => { const m = document.getElementById("messages"); return m ? JSON.parse(m.textContent) : {}; })();

  /** The message `key` in the page's language, its {fields} filled from `params`; a key the page lacks shows as itself. */
  function t(key, params) {
    const text = messages[key];
    if (text === undefined) { console.error("hallq: no message " + key + " on this page"); return key; }
    return params ? text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all)) : text;
  }

  class ApiError extends Error {
    constructor(status, code, message, detail) { super(message); this.status = status; this.code = code; this.detail = detail || {}; }
  }

  function newKey() {
    const a = new Uint8Array(12); crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  let refreshing = 0;  // > 0 while live() refreshes the page: its reads are not the person's activity

  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = { "Accept": "application/json", "Accept-Language": lang };
    if (method === "GET" && refreshing > 0) headers["X-Hallq-Background"] = "1";
    if (method !== "GET") { headers["X-CSRF-Token"] = meta("csrf-token"); headers["Content-Type"] = "application/json"; }
    if (opts.idempotent) headers["Idempotency-Key"] = opts.key || newKey();
    let resp;
    for (let attempt = 0; ; attempt++) {
      try {
        resp = await fetch("/api/v1" + path, { method, headers, credentials: "same-origin",
          body: method === "GET" ? undefined : JSON.stringify(body || {}) });
        break;
      } catch (e) {
        // the network failed: only a request with an idempotency key may safely be sent again
        if (!opts.idempotent || attempt >= 2) throw new ApiError(0, "unreachable",
          t("web.common.server_unreachable"));
        await new Promise((r) => setTimeout(r, 400 * (attempt + 1)));
      }
    }
    if (resp.status === 401 && !opts.noRedirect) {
      location.href = "/console/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new ApiError(401, "unauthorized", t("web.common.please_sign_in_again"));
    }
    const ct = resp.headers.get("Content-Type") || "";
    const data = ct.includes("json") ? await resp.json() : null;
    if (!resp.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(resp.status, err.code || "error", err.message || resp.statusText, err.detail);
    }
    return data;
  }

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return node;
  }

  let flashTimer = null;
  function flash(message, kind) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.className = "flash " + (kind || "");
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { box.hidden = true; }, kind === "bad" ? 8000 : 3500);
  }

  /* Live updates by short polling: GET /api/v1/live answers 304 while the journal has not moved,
   * so an idle console costs one tiny request a second. onChange() runs when it moved, and every
   * `refreshSeconds` anyway (waiting times grow with the clock, not with the journal). */
  function live(onChange, opts) {
    opts = opts || {};
    const fast = opts.intervalMs || 1000, refresh = (opts.refreshSeconds || 30) * 1000;
    const dot = document.getElementById("live-dot");
    let etag = null, last = 0, failures = 0, busy = false;
    async function tick() {
      if (busy) return;
      busy = true;
      try {
        const headers = { "Accept": "application/json", "X-Hallq-Background": "1" };
        if (etag) headers["If-None-Match"] = etag;
        const resp = await fetch("/api/v1/live", { headers, credentials: "same-origin", cache: "no-cache" });
        if (resp.status === 401) { location.href = "/console/login?next=" + encodeURIComponent(location.pathname); return; }
        failures = 0;
        if (dot) dot.classList.remove("stale");
        const moved = resp.status === 200;
        if (moved) etag = resp.headers.get("ETag");
        if (moved || Date.now() - last > refresh) {
          last = Date.now();
          refreshing++;
          try { await onChange(); } finally { refreshing--; }
        }
      } catch (e) {
        failures++;
        if (dot && failures > 2) dot.classList.add("stale");
      } finally {
        busy = false;
        setTimeout(tick, document.hidden ? fast * 5 : fast);
      }
    }
    tick();
  }

  function pageData() {
    const node = document.getElementById("page-data");
    return node ? JSON.parse(node.textContent) : {};
  }

  function hhmm(iso) { return iso ? iso.slice(11, 16) : ""; }
  function minutesSince(iso, nowIso) {
    if (!iso) return null;
    const now = nowIso ? Date.parse(nowIso) : Date.now();
    return Math.max(0, Math.floor((now - Date.parse(iso)) / 60000));
  }

  /* A form whose submit calls the API: data-api="POST /path" on the <form>. */
  function apiForms(root, after) {
    (root || document).querySelectorAll("form[data-api]").forEach((form) => {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const [method, path] = form.dataset.api.split(" ");
        const body = {};
        new FormData(form).forEach((v, k) => {
          const input = form.elements[k];
          if (input && input.dataset && input.dataset.type === "int") { if (v !== "") body[k] = parseInt(v, 10); }
          else if (input && input.type === "checkbox") body[k] = input.checked;
          else if (v !== "") body[k] = v;
        });
        const button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        try {
          const result = await api(method, path, body);
          flash(form.dataset.done || t("web.common.form_saved"), "ok");
          if (after) await after(form, result); else if (form.dataset.reload !== "no") setTimeout(() => location.reload(), 600);
        } catch (e) { flash(e.message, "bad"); }
        finally { if (button) button.disabled = false; }
      });
    });
  }

  /* What needs a person (GET /api/v1/attention, also in the window console and the live hall): a resident
   * at a kiosk asking for help (找工作人员帮忙) with "I'll go", and every device reporting a problem. */
  function attention(a, after) {
    if (!a) return [];
    const bars = (a.help_requests || []).map((h) => el("div", { class: "alert-bar bad help-request", role: "alert" },
      el("strong", {}, t("web.common.help_wanted")), " ",
      t("web.common.help_wanted_at", { place: h.place || h.device, device: h.device }),
      h.waited_minutes ? ` · ${t("web.common.waiting")} ${h.waited_minutes} ${t("web.common.min")}` : "", " ",
      el("button", { type: "button", class: "primary", "data-help": h.id, onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api("POST", `/help-requests/${h.id}/take`, {});
          flash(t("web.common.colleagues_told"), "ok");
        } catch (e) { flash(e.message, "bad"); }
        if (after) await after();
      } }, t("web.common.i_ll_go"))));
    // a report is its publisher's (migration 026): a name that is not the publisher's own ("kiosk-1-printer" of
    // kiosk-1) says who reported it ("strip-1 (gw-1)"), so one device cannot pass for another unseen
    const reporter = (d) => (d.owner && d.device !== d.owner && !d.device.startsWith(`${d.owner}-`)
      ? `${d.device} (${d.owner})` : d.device);
    const broken = a.device_problems || [];
    if (broken.length) bars.push(el("div", { class: "alert-bar device-problems", role: "status" },
      el("strong", {}, t("web.common.devices")), " ",
      broken.flatMap((d, i) => [i ? " · " : "", `${reporter(d)}: `, (d.problem_texts || []).map((p) => pick(p)).join("、")
        || t("web.common.not_working")])));
    return bars;
  }

  /* An action that cannot be undone asks first, in the page (not the browser's bare confirm()): a modal dialog that
   * keeps the focus inside; the focus starts on 取消 (the safe answer: Enter cancels, Tab then Enter confirms), Esc
   * cancels. Resolves to true when confirmed. */
  function ask(text) {
    let dlg = document.getElementById("dlg-confirm");
    if (!dlg) {
      dlg = el("dialog", { id: "dlg-confirm", "aria-labelledby": "confirm-text" },
        el("p", { id: "confirm-text", class: "confirm-text" }),
        el("menu", {}, el("button", { type: "button", id: "confirm-no" }, t("web.common.cancel")),
          el("button", { type: "button", id: "confirm-yes", class: "primary" }, t("web.common.confirm"))));
      document.body.append(dlg);
    }
    document.getElementById("confirm-text").textContent = text;
    return new Promise((resolve) => {
      const done = (yes) => { dlg.onclose = null; if (dlg.open) dlg.close(); resolve(yes); };
      document.getElementById("confirm-yes").onclick = () => done(true);
      document.getElementById("confirm-no").onclick = () => done(false);
      dlg.onclose = () => done(false);
      dlg.showModal();
      document.getElementById("confirm-no").focus();
    });
  }

  // closing a window is one click on two manager pages: both ask first, in the same words
  function sureToClose(n) {
    return ask(t("web.common.sure_close_window", { n }));
  }

  window.hallq = { ask, sureToClose, api, ApiError, el, flash, live, pick, t, lang, pageData, hhmm, minutesSince, apiForms, newKey, attention };
})();
