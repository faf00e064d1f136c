/* danhba web form embed: <script src="https://DANHBA/f/embed.js" data-form="SLUG" async></script>
   Renders the form where the script tag is and posts it to danhba across origins (the form
   lists the sites allowed to). No inline code or styles are needed from the host page. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var base = new URL(script.src, location.href).origin;
  var slug = script.getAttribute("data-form") || "";
  var AID = "danhba_aid";
  var VISITOR = "danhba_fv";

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        try { return decodeURIComponent(parts[i].slice(eq + 1)); } catch (e) { return ""; }
      }
    }
    return "";
  }
  function storageGet(key) { try { return window.localStorage.getItem(key) || ""; } catch (e) { return ""; } }
  function storageSet(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* disabled */ } }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  var box = el("div", { "class": "danhba-form", "data-danhba-form": slug });
  script.parentNode.insertBefore(box, script);
  var anonymousId = readCookie(AID) || storageGet(AID);
  var visitor = storageGet(VISITOR);
  var query = "?aid=" + encodeURIComponent(anonymousId) + "&visitor=" + encodeURIComponent(visitor);
  var url = base + "/f/" + encodeURIComponent(slug);

  fetch(url + "/schema" + query, { mode: "cors", credentials: "omit" })
    .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
    .then(render)
    .catch(function () { box.textContent = ""; });

  function field(spec, index) {
    var wrap = el("div", { "class": "danhba-field" });
    var id = "danhba-" + slug + "-" + index;
    var input;
    if (spec.kind === "checkbox") {
      var check = el("label", {});
      input = el("input", { type: "checkbox", name: spec.name, value: "true", id: id });
      check.appendChild(input);
      check.appendChild(document.createTextNode(" " + spec.label + (spec.required ? " *" : "")));
      wrap.appendChild(check);
    } else {
      wrap.appendChild(el("label", { "for": id }, spec.label + (spec.required ? " *" : "")));
      if (spec.kind === "textarea") {
        input = el("textarea", { name: spec.name, id: id, rows: "4" });
      } else if (spec.kind === "choice") {
        input = el("select", { name: spec.name, id: id });
        if (spec.multiple) input.multiple = true; else input.appendChild(el("option", { value: "" }, "—"));
        spec.options.forEach(function (o) { input.appendChild(el("option", { value: o[0] }, o[1])); });
      } else {
        var types = { email: "email", tel: "tel", date: "date", number: "number", url: "url" };
        input = el("input", { name: spec.name, id: id, type: types[spec.kind] || "text" });
      }
      if (spec.required) input.setAttribute("aria-required", "true");
      wrap.appendChild(input);
    }
    input.style.display = "block";
    if (spec.kind !== "checkbox") { input.style.width = "100%"; input.style.boxSizing = "border-box"; }
    if (spec.help) wrap.appendChild(el("small", {}, spec.help));
    var error = el("small", { "class": "danhba-error", role: "alert" });
    error.style.color = "#b91c1c";
    wrap.appendChild(error);
    wrap.style.marginBottom = "0.75rem";
    return { wrap: wrap, error: error, name: spec.name, input: input };
  }

  function render(schema) {
    var form = el("form", { novalidate: "novalidate", "accept-charset": "utf-8" });
    var errors = {};
    var alert = el("p", { "class": "danhba-alert", role: "alert" });
    alert.style.color = "#b91c1c";
    form.appendChild(alert);
    schema.fields.forEach(function (spec, i) {
      var f = field(spec, i);
      errors[f.name] = f.error;
      form.appendChild(f.wrap);
    });
    schema.consents.forEach(function (c, i) {
      var wrap = el("div", { "class": "danhba-consent" });
      var label = el("label", {});
      var input = el("input", { type: "checkbox", name: "consent", value: c.purpose, id: "danhba-" + slug + "-c" + i });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + c.text + (c.required ? " *" : "")));
      wrap.appendChild(label);
      var error = el("small", { "class": "danhba-error", role: "alert" });
      error.style.color = "#b91c1c";
      error.style.display = "block";
      wrap.appendChild(error);
      wrap.style.marginBottom = "0.75rem";
      errors["consent." + c.purpose] = error;
      form.appendChild(wrap);
    });
    var trap = el("div", { "aria-hidden": "true" });
    trap.style.position = "absolute"; trap.style.width = "1px"; trap.style.height = "1px"; trap.style.overflow = "hidden";
    trap.style.clipPath = "inset(50%)"; trap.style.opacity = "0";
    trap.appendChild(el("input", { type: "text", name: schema.honeypot, tabindex: "-1", autocomplete: "off" }));
    form.appendChild(trap);
    var button = el("button", { type: "submit" }, schema.submit_label);
    form.appendChild(button);
    box.appendChild(form);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = { consent: [] };
      Array.prototype.forEach.call(form.elements, function (input) {
        if (!input.name) return;
        if (input.name === "consent") { if (input.checked) data.consent.push(input.value); return; }
        if (input.type === "checkbox") { data[input.name] = input.checked; return; }
        if (input.multiple) { data[input.name] = Array.prototype.filter.call(input.options, function (o) { return o.selected; }).map(function (o) { return o.value; }); return; }
        data[input.name] = input.value;
      });
      var params = new URLSearchParams(location.search);
      ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (k) {
        if (params.get(k)) data[k] = params.get(k);
      });
      data[schema.token_field] = schema.token;
      data.page_url = location.href;
      data.referrer = document.referrer;
      data.anonymous_id = anonymousId;
      data.visitor = visitor;
      Object.keys(errors).forEach(function (k) { errors[k].textContent = ""; });
      alert.textContent = "";
      button.disabled = true;
      button.textContent = schema.messages.sending;
      fetch(url + "/submit", {
        method: "POST", mode: "cors", credentials: "omit",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
      }).then(function (r) {
        if (r.status === 429) throw new Error("busy");
        return r.json().then(function (body) { return { status: r.status, body: body }; });
      }).then(function (res) {
        button.disabled = false;
        button.textContent = schema.submit_label;
        if (res.body.ok) {
          if (res.body.visitor) storageSet(VISITOR, res.body.visitor);
          if (res.body.redirect) { location.href = res.body.redirect; return; }
          box.textContent = "";
          box.appendChild(el("p", { "class": "danhba-thanks", role: "status" }, res.body.message));
          return;
        }
        alert.textContent = res.body.message || schema.messages.invalid;
        Object.keys(res.body.errors || {}).forEach(function (k) {
          if (errors[k]) errors[k].textContent = res.body.errors[k].join(" ");
        });
      }).catch(function (e) {
        button.disabled = false;
        button.textContent = schema.submit_label;
        alert.textContent = e && e.message === "busy" ? schema.messages.busy : schema.messages.failed;
      });
    });
  }
})();
