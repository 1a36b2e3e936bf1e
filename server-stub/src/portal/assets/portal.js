// Keyway Portal: a little progressive enhancement. Every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Print buttons (hidden until this script shows them).
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
  // Forms that ask before they do something that cannot be undone.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // The one-time PIN page: typing a name narrows the list of recipients.
  const filter = document.querySelector("[data-filter-list]");
  if (filter) {
    const list = document.getElementById(filter.dataset.filterList);
    const status = document.getElementById(filter.dataset.filterStatus);
    filter.addEventListener("input", () => {
      const words = filter.value.trim().toLowerCase();
      let shown = 0;
      for (const item of list.querySelectorAll("[data-name]")) {
        const match = item.dataset.name.includes(words);
        item.hidden = !match;
        if (match) shown += 1;
      }
      if (status) status.textContent = `${shown} matching recipient${shown === 1 ? "" : "s"}`;
    });
  }
});
