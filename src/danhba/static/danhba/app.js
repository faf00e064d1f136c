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
