/*! Parley web widget loader.
 * Paste on a site:
 *   <script src="https://parley.example.com/static/widget.js" data-assistant="pa_..." async></script>
 * It adds a launcher button and a chat panel; the chat itself is a page served by Parley in an
 * iframe, which only the assistant's allowed origins may frame. No framework, no inline
 * markup or styles (element.style only), no request to anything but Parley.
 */
(function () {
  "use strict";
  var script = document.currentScript ||
    document.querySelector('script[data-assistant][src*="/static/widget.js"]');
  if (!script) return;
  var key = script.getAttribute("data-assistant") || "";
  var base;
  try { base = new URL(script.src, location.href).origin; } catch (e) { return; }

  function warn(msg) {
    script.setAttribute("data-parley-state", "unavailable");
    if (window.console) console.warn("Parley widget: " + msg);
  }
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(key)) { warn("the data-assistant attribute is missing or invalid."); return; }
  var loaded = window.__parleyWidgets = window.__parleyWidgets || {};
  if (loaded[key]) return;
  loaded[key] = true;

  // Storage may be blocked (privacy settings): fall back to memory for this page.
  var memory = {};
  function store(kind) {
    try { var s = window[kind]; s.setItem("parley:probe", "1"); s.removeItem("parley:probe"); return s; } catch (e) {
      return { getItem: function (k) { return memory[k] || null; }, setItem: function (k, v) { memory[k] = String(v); }, removeItem: function (k) { delete memory[k]; } };
    }
  }
  var local = store("localStorage"), session = store("sessionStorage");

  // The visitor id: made once, kept in this site's storage, and passed to the chat page. It is
  // a label, not a key: it never resumes a conversation. What resumes one is the session token
  // that the chat page (widget-frame.js) keeps in the iframe's own storage, on Parley's origin,
  // where this site's scripts cannot read it.
  function visitorID() {
    var k = "parley:visitor:" + key, v = local.getItem(k);
    if (v && /^[A-Za-z0-9_-]{8,64}$/.test(v)) return v;
    var b = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(b);
    v = btoa(String.fromCharCode.apply(null, b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    local.setItem(k, v);
    return v;
  }

  function css(el, props) {
    for (var p in props) if (Object.prototype.hasOwnProperty.call(props, p)) el.style.setProperty(p, props[p]);
    return el;
  }

  function build(info) {
    var color = /^#[0-9a-fA-F]{6}$/.test(info.color || "") ? info.color : "#6b3fd4";
    var textColor = /^#[0-9a-fA-F]{6}$/.test(info.text_color || "") ? info.text_color : "#ffffff";
    var title = String(info.title || "Chat");
    var openKey = "parley:open:" + key;

    var root = document.createElement("div");
    root.className = "parley-widget";
    root.setAttribute("data-parley-assistant", key);

    var panel = css(document.createElement("div"), {
      position: "fixed", right: "20px", bottom: "88px", width: "min(380px, calc(100vw - 40px))",
      height: "min(600px, calc(100vh - 120px))", "border-radius": "12px", overflow: "hidden",
      "box-shadow": "0 12px 40px rgba(0,0,0,.25)", background: "#fff", "z-index": "2147483000", display: "none"
    });
    panel.className = "parley-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", title);

    var button = css(document.createElement("button"), {
      position: "fixed", right: "20px", bottom: "20px", "z-index": "2147483000", border: "0",
      "border-radius": "28px", padding: "0 20px", height: "56px", "max-width": "calc(100vw - 40px)",
      background: color, color: textColor, font: "600 15px/1 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
      cursor: "pointer", "box-shadow": "0 6px 20px rgba(0,0,0,.25)", overflow: "hidden", "text-overflow": "ellipsis", "white-space": "nowrap"
    });
    button.type = "button";
    button.className = "parley-launcher";
    button.textContent = title;
    button.setAttribute("aria-expanded", "false");

    var frame = null;
    function ensureFrame() {
      if (frame) return;
      frame = css(document.createElement("iframe"), { width: "100%", height: "100%", border: "0", display: "block" });
      frame.className = "parley-frame";
      frame.title = title;
      frame.setAttribute("sandbox", "allow-scripts allow-forms allow-same-origin allow-popups allow-popups-to-escape-sandbox");
      frame.src = base + "/widget/" + encodeURIComponent(key) + "?visitor=" + encodeURIComponent(visitorID());
      panel.appendChild(frame);
    }
    function open() {
      ensureFrame();
      panel.style.setProperty("display", "block");
      button.setAttribute("aria-expanded", "true");
      root.setAttribute("data-parley-open", "true");
      session.setItem(openKey, "1");
    }
    function close() {
      panel.style.setProperty("display", "none");
      button.setAttribute("aria-expanded", "false");
      root.setAttribute("data-parley-open", "false");
      session.removeItem(openKey);
      button.focus();
    }
    button.addEventListener("click", function () {
      if (panel.style.getPropertyValue("display") === "none") open(); else close();
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && panel.style.getPropertyValue("display") !== "none") close();
    });
    // Messages from the chat page: only from Parley's origin and from our own iframe.
    window.addEventListener("message", function (ev) {
      if (!frame || ev.source !== frame.contentWindow || ev.origin !== base || !ev.data) return;
      if (ev.data.parley === "close") close();
      if (ev.data.parley === "ready") root.setAttribute("data-parley-frame", "ready");
    });

    root.appendChild(panel);
    root.appendChild(button);
    document.body.appendChild(root);
    script.setAttribute("data-parley-state", "ready");
    if (session.getItem(openKey) === "1") open();
  }

  function start() {
    fetch(base + "/api/widget/v1/assistants/" + encodeURIComponent(key), { mode: "cors", credentials: "omit" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(build)
      .catch(function (err) {
        warn("the chat is not available here (" + err.message + "). Is " + location.origin + " in the assistant's allowed origins?");
      });
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
