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
  function start() {
    document.querySelectorAll(".kind-refresh").forEach(function (b) { b.hidden = true; });
    document.querySelectorAll("select[name='trigger_kind'], select[name^='steps-'][name$='-kind']").forEach(function (s) {
      s.addEventListener("change", function () { show(s); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
