// The deal board: drag a card onto another stage's column to move it. The drop sets the card's
// own stage menu and submits its form — the same POST the keyboard path (menu + Move) sends,
// so the server has one way in and the board works without this file too.
(() => {
  let dragged = null;
  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest(".board-card[draggable=true]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });
  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll(".board-column.drop-target").forEach((c) => c.classList.remove("drop-target"));
    dragged = null;
  });
  document.addEventListener("dragover", (event) => {
    const column = dragged && event.target.closest && event.target.closest(".board-column[data-stage]");
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });
  document.addEventListener("dragleave", (event) => {
    const column = event.target.closest && event.target.closest(".board-column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });
  document.addEventListener("drop", (event) => {
    const column = dragged && event.target.closest && event.target.closest(".board-column[data-stage]");
    if (!column) return;
    event.preventDefault();
    const form = dragged.querySelector("form.board-move");
    const select = form && form.querySelector("select[name=stage_id]");
    if (!select || select.value === column.dataset.stage) return;
    select.value = column.dataset.stage;
    form.requestSubmit();
  });
})();
