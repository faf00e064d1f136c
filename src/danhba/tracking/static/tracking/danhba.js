/* danhba.js: website tracking for danhba (Segment-style page / track / identify).
 * Plain ES2017, no dependencies, no build step. Served at /v1/danhba.js.
 *
 * Embed (Settings -> Event sources shows it with the host and the write key):
 *   <script>
 *     window.danhba = window.danhba || [];
 *     ["page", "track", "identify"].forEach(function (m) { danhba[m] = danhba[m] || function () { danhba.push([m].concat([].slice.call(arguments))); }; });
 *     danhba.page();
 *   </script>
 *   <script async src="https://HOST/v1/danhba.js" data-write-key="WRITE_KEY"></script>
 *
 * The write key of a website source is public by nature (anyone can read it in the page);
 * it only lets a visitor send events, never read anything.
 */
(function () {
  "use strict";
  var VERSION = "1.0.0";
  var COOKIE = "danhba_aid";
  var USER_KEY = "danhba_uid";
  var YEAR_SECONDS = 365 * 24 * 3600;
  var UTM = { utm_campaign: "name", utm_source: "source", utm_medium: "medium", utm_term: "term", utm_content: "content" };

  var previous = window.danhba;
  if (previous && previous.initialized) return;

  var script = document.currentScript;
  var writeKey = (previous && previous.writeKey) || (script && script.getAttribute("data-write-key")) || "";
  var host = (previous && previous.host) || (script && script.getAttribute("data-host")) || (script ? new URL(script.src).origin : "");
  var endpoint = host.replace(/\/+$/, "") + "/v1/batch";

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

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

  function writeCookie(name, value) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + YEAR_SECONDS + "; Path=/; SameSite=Lax" + secure;
  }

  function storageGet(key) {
    try { return window.localStorage.getItem(key) || ""; } catch (e) { return ""; }
  }

  function storageSet(key, value) {
    try {
      if (value) window.localStorage.setItem(key, value);
      else window.localStorage.removeItem(key);
    } catch (e) { /* storage disabled: the cookie still holds the anonymous id */ }
  }

  // First-party cookie first (shared by every page of the site), localStorage when cookies are
  // blocked or were cleared; both are refreshed so the id lives a year from the last visit.
  var anonymousId = readCookie(COOKIE) || storageGet(COOKIE) || uuid();
  writeCookie(COOKIE, anonymousId);
  storageSet(COOKIE, anonymousId);
  var userId = storageGet(USER_KEY) || null;

  function campaign() {
    var out = {};
    var params = new URLSearchParams(location.search);
    Object.keys(UTM).forEach(function (key) {
      var value = params.get(key);
      if (value) out[UTM[key]] = value;
    });
    return out;
  }

  function pageInfo() {
    var canonical = document.querySelector("link[rel='canonical']");
    return {
      path: location.pathname,
      referrer: document.referrer,
      search: location.search,
      title: document.title,
      url: canonical && canonical.href ? canonical.href : location.href,
    };
  }

  function context() {
    var ctx = {
      library: { name: "danhba.js", version: VERSION },
      page: pageInfo(),
      userAgent: navigator.userAgent,
      locale: navigator.language,
      screen: { width: screen.width, height: screen.height },
    };
    try { ctx.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old browser */ }
    var utm = campaign();
    if (Object.keys(utm).length) ctx.campaign = utm;
    return ctx;
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // One message per request, in order. The messageId is fixed before the first attempt, so a
  // retry after a network error is stored once (the server is idempotent on messageId).
  var sending = Promise.resolve();

  function post(body, attempt) {
    var text = JSON.stringify(body);
    // text/plain keeps the request "simple": no CORS preflight, and sendBeacon accepts it.
    if (typeof fetch === "function") {
      return fetch(endpoint, {
        method: "POST",
        body: text,
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        keepalive: text.length < 60000,
        credentials: "omit",
        mode: "cors",
      }).then(function (response) {
        if (response.status >= 500 && attempt < 3) throw new Error("retry");
        return response;
      }).catch(function () {
        if (attempt >= 3) return null;
        return new Promise(function (resolve) { setTimeout(resolve, 500 * Math.pow(2, attempt)); })
          .then(function () { return post(body, attempt + 1); });
      });
    }
    if (navigator.sendBeacon) navigator.sendBeacon(endpoint, text);
    return Promise.resolve(null);
  }

  function send(type, fields) {
    var now = new Date().toISOString();
    var message = Object.assign({ type: type, messageId: uuid(), anonymousId: anonymousId, timestamp: now, context: context() }, fields);
    if (userId) message.userId = userId;
    var body = { writeKey: writeKey, sentAt: now, batch: [message] };
    sending = sending.then(function () { return post(body, 0); });
    return sending;
  }

  var api = {
    initialized: true,
    VERSION: VERSION,
    writeKey: writeKey,
    host: host,
    /** page([name], [properties]) */
    page: function (name, properties) {
      if (isObject(name)) { properties = name; name = undefined; }
      var props = Object.assign(pageInfo(), isObject(properties) ? properties : {});
      var fields = { properties: props };
      if (typeof name === "string" && name) { fields.name = name; props.name = name; }
      return send("page", fields);
    },
    /** track(event, [properties]) */
    track: function (event, properties) {
      if (typeof event !== "string" || !event) return Promise.resolve(null);
      return send("track", { event: event, properties: isObject(properties) ? properties : {} });
    },
    /** identify([userId], [traits]): remembers the user id for later calls on this site. */
    identify: function (id, traits) {
      if (isObject(id)) { traits = id; id = undefined; }
      if (id !== undefined && id !== null && id !== "") {
        userId = String(id);
        storageSet(USER_KEY, userId);
      }
      return send("identify", { traits: isObject(traits) ? traits : {} });
    },
    /** reset(): forget the user (on logout) and start a new anonymous id. */
    reset: function () {
      userId = null;
      storageSet(USER_KEY, "");
      anonymousId = uuid();
      writeCookie(COOKIE, anonymousId);
      storageSet(COOKIE, anonymousId);
    },
    anonymousId: function () { return anonymousId; },
    userId: function () { return userId; },
    /** Resolves when every call so far has been sent (useful before navigating away). */
    flush: function () { return sending; },
    push: function (call) { api._call(call); },
    _call: function (call) {
      if (!Array.isArray(call) || typeof api[call[0]] !== "function" || call[0] === "push") return;
      api[call[0]].apply(api, call.slice(1));
    },
  };

  window.danhba = api;
  if (!writeKey) {
    if (window.console) console.warn("danhba.js: no write key (set data-write-key on the script tag)");
  }
  // Calls made before the script loaded, in the order they were made.
  if (Array.isArray(previous)) previous.forEach(api._call);
})();
