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

  // The session token: the only thing that resumes a conversation. It is kept in this
  // iframe's own storage (Parley's origin, first-party to the chat page; never the host
  // site's) and sent as ?token= when the page is loaded again. The visitor id in the URL
  // resumes nothing.
  var memory = {};
  function tokenStore() {
    var kinds = ["localStorage", "sessionStorage"];
    for (var i = 0; i < kinds.length; i++) {
      try { var s = window[kinds[i]]; s.setItem("parley:probe", "1"); s.removeItem("parley:probe"); return s; } catch (e) { /* blocked */ }
    }
    return { getItem: function (k) { return memory[k] || null; }, setItem: function (k, v) { memory[k] = String(v); }, removeItem: function (k) { delete memory[k]; } };
  }
  function withoutToken(params) {
    params.delete("token");
    var q = params.toString();
    return location.pathname + (q ? "?" + q : "") + location.hash;
  }
  // resume runs before anything else on the page: it returns true when the page is being
  // replaced by the chat of the stored token.
  function resume() {
    var body = document.body, key = body && body.dataset.assistant;
    if (!key || !window.URLSearchParams) return false;
    var store = tokenStore(), name = "parley:session:" + key;
    var params = new URLSearchParams(location.search), inURL = params.has("token");
    var composerToken = document.querySelector("#widget-chat #composer input[name='token']");
    if (composerToken && composerToken.value) {
      // A chat page: keep its (renewed) token, and take the token out of the address.
      store.setItem(name, composerToken.value);
      if (inURL && window.history && history.replaceState) history.replaceState(null, "", withoutToken(params));
      return false;
    }
    if (inURL) {
      // The token was refused (expired, or its chat has ended): forget it.
      store.removeItem(name);
      if (window.history && history.replaceState) history.replaceState(null, "", withoutToken(params));
      return false;
    }
    var saved = store.getItem(name);
    if (saved && (document.getElementById("widget-start") || document.getElementById("widget-identity-only"))) {
      body.classList.add("resuming");
      params.set("token", saved);
      location.replace(location.pathname + "?" + params.toString());
      return true;
    }
    return false;
  }

  function offline(on) {
    var b = $("#widget-offline");
    if (b) b.hidden = !on;
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (resume()) return;
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

  // The visitor's feedback on an answer (the timeline is hx-disable, so the thumbs are
  // sent from here): a thumb stores the rating at once; after "down" an optional comment
  // box opens, and its text is sent with the rating.
  function sessionToken() {
    var t = document.querySelector("#chat-foot input[name='token']");
    return t ? t.value : "";
  }
  function sendFeedback(box, rating, comment, done) {
    var key = document.body.dataset.assistant, id = box.getAttribute("data-message");
    var body = new URLSearchParams();
    body.set("token", sessionToken());
    body.set("rating", rating);
    if (comment) body.set("comment", comment);
    showError("");
    fetch("/widget/" + encodeURIComponent(key) + "/messages/" + encodeURIComponent(id) + "/feedback", {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true" }
    }).then(function (r) {
      if (r.ok) { done(); return; }
      return r.text().then(function (t) {
        t = (t || "").trim();
        showError(t && t.charAt(0) !== "<" ? t : "Your feedback was not sent (error " + r.status + "). Please try again.");
      });
    }).catch(function () {
      showError("Your feedback was not sent: you seem to be offline. Check your connection and try again.");
    });
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest(".feedback button[data-rating]");
    if (!b) return;
    var box = b.closest(".feedback"), rating = b.getAttribute("data-rating");
    sendFeedback(box, rating, "", function () {
      box.setAttribute("data-rated", rating);
      box.querySelectorAll("button[data-rating]").forEach(function (x) {
        x.setAttribute("aria-pressed", x === b ? "true" : "false");
      });
      var f = box.querySelector(".fb-comment"), thanks = box.querySelector(".fb-thanks");
      if (thanks) thanks.hidden = rating === "down";
      if (f) {
        f.hidden = rating !== "down";
        if (!f.hidden) f.querySelector("textarea").focus();
      }
    });
  });

  // The start form is a plain form: send it once, even on a double click.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (f.matches && f.matches(".feedback .fb-comment")) {
      ev.preventDefault();
      var box = f.closest(".feedback");
      sendFeedback(box, "down", f.querySelector("textarea").value.trim(), function () {
        f.hidden = true;
        var thanks = box.querySelector(".fb-thanks");
        if (thanks) thanks.hidden = false;
      });
      return;
    }
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
