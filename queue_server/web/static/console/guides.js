/* Guides (办事指南维护): one item's guide edited and saved, every refused field shown beside it; the catalogue
 * imported as services.toml, a dry run first. The server checks everything (queue_server/domain/guides.py). */
"use strict";
(function () {
  const { el, flash, t, pageData } = window.hallq;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const LANGS = ["zh-Hans", "zh-Hant", "en"];

  /* A call of the API whose refusal keeps its fields (every {field, problem}), JSON or a TOML file. */
  async function call(method, path, body, type) {
    const meta = $('meta[name="csrf-token"]');
    const resp = await fetch("/api/v1" + path, { method, credentials: "same-origin",
      body: type ? body : JSON.stringify(body), headers: { "Content-Type": type || "application/json",
        "Accept": "application/json", "X-CSRF-Token": meta ? meta.content : "", "Accept-Language": window.hallq.lang } });
    if (resp.status === 401) { location.href = "/console/login?next=" + encodeURIComponent(location.pathname); }
    const json = await resp.json().catch(() => ({ error: { message: resp.statusText } }));
    if (!resp.ok) { const e = new Error(json.error.message); e.fields = json.error.fields || []; throw e; }
    return json;
  }

  /* -- refusals: each problem beside its field, and all of them in the box at the top ------------------------ */
  function clearProblems() {
    $$("[aria-invalid]").forEach((n) => { n.removeAttribute("aria-invalid"); n.removeAttribute("aria-describedby"); });
    $$(".field-problem").forEach((n) => n.remove());
    const box = $("#guide-problems");
    if (box) box.hidden = true;
  }
  function fieldFor(path) {
    // the input of that path, or of the nearest path above it (form[0].options[1].label → form[0].options)
    for (let p = path; p; p = p.replace(/(\[[^\]]*\]|\.[^.[\]]*)$/, "")) {
      const node = $(`[data-field="${CSS.escape(p)}"]`);
      if (node) return node;
      if (!/(\[[^\]]*\]|\.[^.[\]]*)$/.test(p)) break;
    }
    return null;
  }
  function showProblems(fields) {
    clearProblems();
    const box = $("#guide-problems"), list = $("#guide-problem-list");
    list.replaceChildren();
    fields.forEach((f, n) => {
      const text = t("web.guides.problem", { field: f.field, problem: f.problem });
      list.append(el("li", {}, text));
      const node = fieldFor(f.field);
      if (!node) return;
      const id = "problem-" + n;
      node.setAttribute("aria-invalid", "true");
      node.setAttribute("aria-describedby", [node.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
      node.after(el("span", { class: "error field-problem", id }, f.problem));
    });
    box.hidden = fields.length === 0;
    if (fields.length) box.scrollIntoView({ block: "start" });
  }

  /* -- the edit page ------------------------------------------------------------------------------------------ */
  const form = $("#guide-form");
  if (form) {
    const original = pageData().item;
    const empty = (v) => v === "" || v === undefined || v === null || (Array.isArray(v) && v.length === 0);
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    // an emptied input removes its key, as it would be left out of the file; one the item had empty stays
    function put(obj, orig, key, value) {
      if (empty(value) && !(orig && key in orig && same(orig[key], value))) delete obj[key];
      else obj[key] = value;
    }
    const int = (s) => (s.trim() === "" ? "" : Number(s));

    function renumber() {
      $$("#materials tr").forEach((row, i) => {
        $("[data-n]", row).textContent = String(i + 1);
        for (const [name, key] of [["m-name", "name"], ["m-form", "form"], ["m-copies", "copies"], ["m-note", "note"]])
          $(`[name=${name}]`, row).dataset.field = `materials[${i}].${key}`;
      });
      $$("#fields tr").forEach((row, i) => {
        $("[name=f-key]", row).dataset.field = `form[${i}].key`;
        $("[name=f-type]", row).dataset.field = `form[${i}].type`;
        $("[name=f-options]", row).dataset.field = `form[${i}].options`;
        LANGS.forEach((l) => { $(`[name=f-label-${l}]`, row).dataset.field = `form[${i}].label.${l}`; });
      });
    }

    function material(row) {
      const orig = row.dataset.index !== undefined ? (original.materials || [])[+row.dataset.index] : null;
      const m = orig ? { ...orig } : {};
      m.name = $("[name=m-name]", row).value.trim();
      m.form = $("[name=m-form]", row).value;
      put(m, orig, "copies", int($("[name=m-copies]", row).value));
      put(m, orig, "note", $("[name=m-note]", row).value.trim());
      const required = $("[name=m-required]", row).checked;  // required unless it says not
      if (!required) m.required = false; else if (orig && "required" in orig) m.required = true; else delete m.required;
      return m;
    }

    function options(text) {
      return text.split("\n").map((line) => line.split("|").map((s) => s.trim())).filter((p) => p[0]).map((p) => {
        const label = {};
        LANGS.forEach((l, i) => { if (p[i + 1]) label[l] = p[i + 1]; });
        return { value: p[0], label };
      });
    }

    function formField(row) {
      const orig = row.dataset.index !== undefined ? (original.form || [])[+row.dataset.index] : null;
      const f = orig ? { ...orig } : {};
      f.key = $("[name=f-key]", row).value.trim();
      f.type = $("[name=f-type]", row).value;
      const label = {};
      LANGS.forEach((l) => { const v = $(`[name=f-label-${l}]`, row).value.trim(); if (v) label[l] = v; });
      f.label = label;
      const required = $("[name=f-required]", row).checked;  // not required unless it says so
      if (required) f.required = true; else if (orig && "required" in orig) f.required = false; else delete f.required;
      put(f, orig, "options", options($("[name=f-options]", row).value));
      return f;
    }

    function entry() {
      const item = { ...original };
      delete item.code;
      const name = {};
      LANGS.forEach((l) => { const v = form.elements[`name.${l}`].value.trim(); if (v) name[l] = v; });
      item.name = name;
      item.business = form.elements.business.value;
      $$("[data-text]", form).forEach((n) => put(item, original, n.name, n.value.trim()));
      $$("[data-int]", form).forEach((n) => put(item, original, n.name, int(n.value)));
      $$("[data-lines]", form).forEach((n) => put(item, original, n.name,
        n.value.split("\n").map((s) => s.trim()).filter(Boolean)));
      const appointment = form.elements.appointment.checked;
      if (appointment || "appointment" in original) item.appointment = appointment; else delete item.appointment;
      put(item, original, "materials", $$("#materials tr").map(material));
      put(item, original, "form", $$("#fields tr").map(formField));
      return item;
    }

    form.addEventListener("click", (ev) => {
      const add = ev.target.closest("[data-add]"), remove = ev.target.closest("[data-remove]");
      if (add) {
        const which = add.dataset.add === "material" ? ["#material-row", "#materials"] : ["#field-row", "#fields"];
        const row = $(which[0]).content.firstElementChild.cloneNode(true);
        $(which[1]).append(row);
        renumber();
        $("input", row).focus();
      } else if (remove) {
        const row = remove.closest("tr"), next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        renumber();
        (next ? $("input", next) : $("[data-add]", form)).focus();
      }
    });

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = $("#guide-save");
      button.disabled = true;
      try {
        const r = await call("PUT", `/items/${encodeURIComponent(form.dataset.code)}/guide`, entry());
        clearProblems();
        flash(r.changed.length ? t("web.guides.saved_version", { version: r.version }) : t("web.guides.nothing_changed"), "ok");
        if (r.changed.length) setTimeout(() => location.reload(), 600);
      } catch (e) {
        flash(e.message, "bad");
        showProblems(e.fields || []);
      } finally { button.disabled = false; }
    });
    renumber();
  }

  /* -- the list page: the catalogue imported as TOML, a dry run first --------------------------------------- */
  const file = $("#toml-file");
  if (file) {
    let pending = null;
    const send = (data, apply) => call("POST", "/catalogue.toml" + (apply ? "?apply=1" : ""), data, "application/toml");
    function show(r) {
      $("#import-result").hidden = false;
      $("#import-title").textContent = r.applied ? t("web.guides.import_done", { added: r.added, updated: r.updated })
        : r.changes.length ? t("web.guides.import_would", { added: r.added, updated: r.updated })
        : t("web.guides.import_nothing");
      $("#import-changes").replaceChildren(...r.changes.map((c) => el("li", {},
        c.added ? t("web.guides.import_added", { item: c.item, name: window.hallq.pick(c.name) })
          : t("web.guides.import_changed", { item: c.item, name: window.hallq.pick(c.name), keys: c.changed.join(", ") }))));
      const untouched = $("#import-untouched");
      untouched.hidden = !r.not_in_file.length;
      untouched.textContent = t("web.guides.import_untouched", { count: r.not_in_file.length });
      $("#import-apply").hidden = $("#import-cancel").hidden = r.applied || !r.changes.length;
    }
    file.addEventListener("change", async () => {
      const f = file.files[0];
      if (!f) return;
      $("#import-result").hidden = true;
      clearProblems();
      try {
        pending = await f.arrayBuffer();
        show(await send(pending, false));
      } catch (e) { pending = null; flash(e.message, "bad"); showProblems(e.fields || []); }
      finally { file.value = ""; }
    });
    $("#import-apply").addEventListener("click", async () => {
      if (!pending) return;
      try { show(await send(pending, true)); flash(t("web.guides.import_applied"), "ok"); pending = null; }
      catch (e) { flash(e.message, "bad"); showProblems(e.fields || []); }
    });
    $("#import-cancel").addEventListener("click", () => { pending = null; $("#import-result").hidden = true; });
  }
})();
