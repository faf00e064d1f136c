// Pipeline settings: drag a stage above or below another to reorder. The drop puts the stages'
// ids, in their new order, into the pipeline's order form and submits it — the page's up / down
// buttons send the same kind of POST, so the keyboard and no-script paths need nothing here.
(() => {
  let dragged = null;
  document.addEventListener("dragstart", (event) => {
    const item = event.target.closest && event.target.closest(".stage-item[draggable=true]");
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.stage);
  });
  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
  });
  document.addEventListener("dragover", (event) => {
    const over = dragged && event.target.closest && event.target.closest(".stage-item");
    if (!over || over.parentElement !== dragged.parentElement) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  });
  document.addEventListener("drop", (event) => {
    const over = dragged && event.target.closest && event.target.closest(".stage-item");
    if (!over || over === dragged || over.parentElement !== dragged.parentElement) return;
    event.preventDefault();
    const list = over.parentElement;
    const box = over.getBoundingClientRect();
    list.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    const form = document.getElementById(list.dataset.form);
    if (!form) return;
    form.querySelector("input[name=stage_ids]").value =
      Array.from(list.querySelectorAll(".stage-item")).map((li) => li.dataset.stage).join(",");
    form.requestSubmit();
  });
})();
