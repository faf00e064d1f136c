// The workflow editor: choosing a trigger or a step kind shows that kind's settings (the
// others are hidden and disabled, so they are not sent). Without JavaScript, the "Show its
// settings" button asks the server for the same page with the chosen kind's fields.
(function () {
  "use strict";
  function box(select) {
    if (select.name === "trigger_kind") return document.getElementById("trigger-settings");
    var row = select.closest(".step-row");
    return row ? row.querySelector(".kind-forms") : null;
  }
  function show(select) {
    var forms = box(select);
    if (!forms) return;
    forms.querySelectorAll(":scope > fieldset.kind-params").forEach(function (set) {
      var on = set.dataset.kind === select.value;
      set.hidden = !on;
      set.disabled = !on;
    });
  }
  // The "go to" selects list the steps named on the page: a step added or renamed can be chosen
  // at once (the server renders the same list after "Show its settings"). A step keeps the name
  // the server gave it; a new one is named by its kind and id, as the diagram names it.
  function steps() {
    var out = [];
    document.querySelectorAll(".step-row").forEach(function (row) {
      var id = row.querySelector("input[name$='-step_id']");
      var kind = row.querySelector("select[name$='-kind']");
      if (!id || !id.value.trim()) return;
      var kindName = kind && kind.value ? kind.options[kind.selectedIndex].text : "";
      out.push({ id: id.value.trim(), name: kindName ? kindName + " (" + id.value.trim() + ")" : id.value.trim() });
    });
    return out;
  }
  function followSteps() {
    var named = steps();
    document.querySelectorAll("select[data-steps]").forEach(function (select) {
      var known = {};
      Array.prototype.forEach.call(select.options, function (o) {
        if (o.value && !o.dataset.made) known[o.value] = o.text;  // the server's name (a label kept)
      });
      var chosen = select.value;
      while (select.options.length > 1) select.remove(1);  // the first one ends the path
      named.forEach(function (step) {
        var option = new Option(known[step.id] || step.name, step.id);
        if (!known[step.id]) option.dataset.made = "1";
        select.add(option);
      });
      select.value = named.some(function (s) { return s.id === chosen; }) ? chosen : "";
    });
  }
  // An "update a field" step's value follows the field chosen: the server renders the input
  // (a select, a date, a number, a check box or a text) and it replaces the one shown.
  function swapValue(select) {
    var url = select.dataset.valueInput;
    var slot = document.getElementById(select.dataset.valueSlot);
    if (!url || !slot) return;
    // Only the answer for the field chosen last is shown: an earlier, slower one is dropped.
    var asked = (Number(select.dataset.asked) || 0) + 1;
    select.dataset.asked = String(asked);
    fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + "field=" + encodeURIComponent(select.value), {
      credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (answer) {
      if (!answer.ok) throw new Error(String(answer.status));
      return answer.text();
    }).then(function (html) {
      if (select.dataset.asked === String(asked)) slot.innerHTML = html;
    }).catch(function () { /* the "Show its input" button still works */ });
  }
  function start() {
    document.querySelectorAll(".kind-refresh").forEach(function (b) { b.hidden = true; });
    document.querySelectorAll("select[name='trigger_kind'], select[name^='steps-'][name$='-kind']").forEach(function (s) {
      s.addEventListener("change", function () { show(s); followSteps(); });
    });
    document.querySelectorAll(".step-row input[name$='-step_id']").forEach(function (input) {
      input.addEventListener("input", followSteps);
    });
    document.querySelectorAll("select[data-value-input]").forEach(function (s) {
      s.addEventListener("change", function () { swapValue(s); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
