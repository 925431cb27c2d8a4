/* List pages: reload when the hall's journal moves, unless the clerk is typing or has a dialog open. */
"use strict";
(function () {
  const { live } = window.hallq;
  let first = true;
  live(async () => {
    if (first) { first = false; return; }
    const busy = document.activeElement && ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (!busy && !document.querySelector("dialog[open]")) location.reload();
  }, { intervalMs: 5000, refreshSeconds: 120 });
})();
