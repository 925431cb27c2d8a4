/* Finding an item in the consoles' item pickers (事项检索; docs/api.md, "Finding an item").
 * Every <select data-item-search> gets a search box before it: what the clerk types (社保, yl, yanglao, 身份证)
 * asks GET /api/v1/items?q= and the select then offers what was found, best first, the first one chosen.
 * data-business-select names the business <select> that follows the chosen item: it is set without a change
 * event, which would refill the items. Without an answer (the server unreachable) the picker stays as it was. */
"use strict";
(function () {
  const { api, el, pick, t } = window.hallq;
  const WAIT_MS = 150;  // after the last keystroke: one request per pause, not per letter

  for (const select of document.querySelectorAll("select[data-item-search]")) {
    const label = t("web.item_search.placeholder");
    const box = el("input", { type: "search", class: "item-search", placeholder: label, "aria-label": label,
                              autocomplete: "off", maxlength: 50, "aria-controls": select.id || null });
    select.before(box);
    const business = select.dataset.businessSelect ? document.getElementById(select.dataset.businessSelect) : null;
    let timer = null, asked = 0, found = new Map();

    function follow() {
      const item = found.get(select.value);
      if (item && business && business.value !== item.business) business.value = item.business;
    }

    async function search() {
      const q = box.value.trim();
      if (!q) return;
      const mine = ++asked;
      let items;
      try { items = await api("GET", `/items?q=${encodeURIComponent(q)}&limit=30`); }
      catch (e) { return; }
      if (mine !== asked) return;  // a later keystroke's answer is the one shown
      found = new Map(items.map((i) => [i.code, i]));
      select.replaceChildren(el("option", { value: "" }, items.length ? "—" : t("web.item_search.none")),
        ...items.map((i) => el("option", { value: i.code }, pick(i.name))));
      if (items.length) { select.value = items[0].code; follow(); }
    }

    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, WAIT_MS); });
    box.addEventListener("keydown", (ev) => {  // Enter picks what is shown instead of submitting the form
      if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(timer); search(); }
    });
    select.addEventListener("change", follow);
  }
})();
