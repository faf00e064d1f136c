// Small progressive enhancements; everything works without them.
document.addEventListener("click", (event) => {
  const all = event.target.closest("[data-check-all]");
  if (all) {
    document.querySelectorAll(all.dataset.checkAll).forEach((box) => { box.checked = all.checked; });
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
    const search = document.querySelector("input[type=search]");
    if (search) { event.preventDefault(); search.focus(); }
  }
});

// Repeated inputs (emails, phones…): "Add another" copies the last row, emptied.
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  if (!add) return;
  const rows = add.closest("[data-rows]").querySelectorAll("[data-row]");
  const last = rows[rows.length - 1];
  const copy = last.cloneNode(true);
  copy.classList.remove("has-error");
  copy.querySelectorAll(".errors").forEach((el) => el.remove());
  copy.querySelectorAll("input, select").forEach((el) => { el.value = ""; });
  last.after(copy);
  const first = copy.querySelector("input, select");
  if (first) first.focus();
});
// The bulk bar shows only the input its chosen action needs.
function syncBulk(form) {
  const action = form.querySelector("[name=action]").value;
  form.querySelectorAll("[data-bulk-for]").forEach((el) => {
    el.hidden = !el.dataset.bulkFor.split(" ").includes(action);
  });
}
document.addEventListener("change", (event) => {
  const form = event.target.closest("[data-bulk]");
  if (form && event.target.name === "action") syncBulk(form);
});
document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-bulk]").forEach(syncBulk));
// Filter forms send only the filters in use, so the address bar (hx-push-url) stays readable.
document.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.verb !== "get" || !event.detail.elt.closest("[data-drop-empty]")) return;
  const params = event.detail.parameters;
  for (const key of Object.keys(params)) {
    if (params[key] === "") delete params[key];
  }
});

// The menu button on narrow screens opens and closes the sidebar's menu; Escape closes it and
// gives the focus back to the button.
function setMenu(toggle, open) {
  toggle.setAttribute("aria-expanded", String(open));
  toggle.closest(".sidebar").classList.toggle("menu-open", open);
}
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-menu-toggle]");
  if (toggle) setMenu(toggle, toggle.getAttribute("aria-expanded") !== "true");
});
document.addEventListener("keydown", (event) => {
  const toggle = document.querySelector("[data-menu-toggle][aria-expanded=true]");
  if (event.key === "Escape" && toggle) {
    setMenu(toggle, false);
    toggle.focus();
  }
});

// Nothing inline (the Content-Security-Policy allows no inline script or style), so:
// - a form or button with data-confirm asks before it submits;
document.addEventListener("submit", (event) => {
  const text = (event.submitter && event.submitter.dataset.confirm) || event.target.dataset.confirm;
  if (text && !window.confirm(text)) event.preventDefault();
});
// - a button with data-copy="ID" copies that element's text, then says data-done;
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(source.textContent).then(() => {
    if (button.dataset.done) button.textContent = button.dataset.done;
  });
});
// - typing a date into a field marked data-custom-range sets its form's range to "custom";
document.addEventListener("change", (event) => {
  if (event.target.matches("[data-custom-range]") && event.target.form.range) event.target.form.range.value = "custom";
});
// - [data-shown-for="#select"][data-values="a b"] is shown only while the select has one of the values;
function syncShown(root) {
  root.querySelectorAll("[data-shown-for]").forEach((box) => {
    const select = document.querySelector(box.dataset.shownFor);
    if (select) box.hidden = !box.dataset.values.split(" ").includes(select.value);
  });
}
document.addEventListener("change", () => syncShown(document));
// - tags get their colour from data-color (a CSS variable, set through the DOM, which CSP allows);
// - cells of a table.stack get their column's header as data-label, shown on phones where the
//   rows become cards.
function enhance(root) {
  root.querySelectorAll("[data-color]").forEach((el) => {
    if (/^#[0-9a-f]{3,8}$/i.test(el.dataset.color)) el.style.setProperty("--tag", el.dataset.color);
  });
  const tables = root.matches && root.matches("table.stack") ? [root] : root.querySelectorAll("table.stack");
  tables.forEach((table) => {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.replace(/[↑↓]/g, "").trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      [...row.children].forEach((cell, i) => {
        if (heads[i] && cell.colSpan === 1 && !cell.dataset.label) cell.dataset.label = heads[i];
      });
    });
  });
  syncShown(root);
}
document.addEventListener("DOMContentLoaded", () => enhance(document));
document.addEventListener("htmx:load", (event) => enhance(event.target.closest("table") || event.target));
