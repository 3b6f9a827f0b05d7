// Parley web widget: behaviour of the pages inside the widget's iframe that htmx attributes
// do not cover. No inline scripts or styles: the page's Content-Security-Policy forbids them.
(function () {
  "use strict";
  function $(sel) { return document.querySelector(sel); }

  // Tell the host page (the loader) something; the message carries no secret.
  function tell(what) {
    if (window.parent && window.parent !== window) window.parent.postMessage({ parley: what }, "*");
  }

  function showError(text) {
    var el = $("#widget-error");
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  function scrollDown() {
    var s = $("#scroller");
    if (s) s.scrollTop = s.scrollHeight;
  }

  // Timestamps are rendered in UTC; show them in the visitor's time zone (once per element:
  // the change is itself a mutation the observer below sees).
  function localTimes(root) {
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      el.setAttribute("data-local", "1");
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) el.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
  }

  function offline(on) {
    var b = $("#widget-offline");
    if (b) b.hidden = !on;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.body;
    if (body.dataset.accent) body.style.setProperty("--accent", body.dataset.accent);
    if (body.dataset.accentText) body.style.setProperty("--accent-text", body.dataset.accentText);
    localTimes(document);
    scrollDown();
    offline(navigator.onLine === false);
    var close = $("#widget-close");
    if (close) close.addEventListener("click", function () { tell("close"); });
    var s = $("#scroller");
    if (s && window.MutationObserver) {
      new MutationObserver(function () { localTimes(s); scrollDown(); }).observe(s, { childList: true, subtree: true });
    }
    var m = $("#message");
    if (m && !$("#start-form input[name^='prechat.']")) m.focus();
    tell("ready");
  });

  window.addEventListener("online", function () { offline(false); showError(""); });
  window.addEventListener("offline", function () { offline(true); });

  // The start form is a plain form: send it once, even on a double click.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (f.id !== "start-form") return;
    if (f.getAttribute("data-sent")) { ev.preventDefault(); return; }
    f.setAttribute("data-sent", "1");
  });
  window.addEventListener("pageshow", function () {
    var f = $("#start-form");
    if (f) f.removeAttribute("data-sent");
  });

  // Enter sends, Shift+Enter adds a line.
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing || !ev.target.matches("#message")) return;
    ev.preventDefault();
    var f = ev.target.form;
    if (f && ev.target.value.trim() !== "") f.requestSubmit();
  });

  document.addEventListener("htmx:beforeRequest", function () { showError(""); });
  document.addEventListener("htmx:afterRequest", function (ev) {
    var f = ev.detail && ev.detail.elt;
    if (f && f.matches && f.matches("form[data-reset-on-success]") && ev.detail.successful) {
      f.reset();
      var m = f.querySelector("#message");
      if (m) m.focus();
    }
  });
  // The network failed: the request never reached Parley.
  document.addEventListener("htmx:sendError", function () {
    showError("Your message was not sent: you seem to be offline, or the chat cannot be reached. Check your connection and try again.");
  });
  // Parley answered with an error: it says what went wrong in plain text.
  document.addEventListener("htmx:responseError", function (ev) {
    var x = ev.detail.xhr, text = (x.responseText || "").trim();
    if (x.status === 429) {
      var after = x.getResponseHeader("Retry-After");
      text = text || "You are sending messages too quickly.";
      if (after && text.indexOf("second") < 0) text += " Try again in " + after + " seconds.";
    }
    if (!text || text.charAt(0) === "<") text = "Something went wrong (error " + x.status + "). Please try again.";
    showError(text);
  });
  // A reply stream dropped: the extension reconnects and the reply is picked up where it is.
  document.addEventListener("htmx:sseError", function () {
    if (navigator.onLine === false) offline(true);
  });
  document.addEventListener("htmx:sseOpen", function () { offline(false); });
})();
