// Parley dashboard behaviour that htmx attributes do not cover. No inline scripts: the
// Content-Security-Policy forbids them.
(function () {
  "use strict";
  // Copy-to-clipboard buttons: <button data-copy="text">.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-copy]");
    if (!b) return;
    ev.preventDefault();
    var text = b.getAttribute("data-copy");
    if (text.charAt(0) === "/") text = location.origin + text;
    navigator.clipboard.writeText(text).then(function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    });
  });
  // Confirmation for plain (non-htmx) forms: <form data-confirm="...">.
  document.addEventListener("submit", function (ev) {
    var f = ev.target.closest("form[data-confirm]");
    if (f && !f.hasAttribute("hx-post") && !confirm(f.getAttribute("data-confirm"))) ev.preventDefault();
  });
  // The page's alert (#flash) tells the error of the last htmx request, as text (the server's
  // generic errors are plain text swapped nowhere: HX-Reswap none; a handler's own error
  // fragment is swapped into its target instead). A new request clears it.
  document.addEventListener("htmx:beforeRequest", function () {
    var f = document.getElementById("flash");
    if (f) f.textContent = "";
  });
  document.addEventListener("htmx:responseError", function (ev) {
    var f = document.getElementById("flash"), x = ev.detail && ev.detail.xhr;
    if (!f || !x || x.getResponseHeader("HX-Reswap") !== "none") return;
    var text = (x.responseText || "").trim();
    if (!text || text.charAt(0) === "<") text = "Something went wrong (error " + x.status + "). Please try again.";
    f.textContent = text;
  });
  // Forms that empty themselves after a successful htmx post: <form data-reset-on-success>.
  document.addEventListener("htmx:afterRequest", function (ev) {
    var f = ev.detail && ev.detail.elt;
    if (f && f.matches && f.matches("form[data-reset-on-success]") && ev.detail.successful) f.reset();
  });
  // Live countdowns of WhatsApp windows: <span class="countdown" data-deadline="RFC 3339">.
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.getAttribute("data-deadline")) - now) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) {
        el.textContent = "0m";
        var w = el.closest(".window");
        if (w && w.classList.contains("open")) { w.classList.remove("open"); w.classList.add("closed"); w.setAttribute("data-window", "closed"); }
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = (h > 0 ? h + "h " : "") + pad(m) + "m " + pad(s) + "s";
    });
  }
  // Keyboard review on a conversation page (issue 14 item 6): j/k follow the links to the
  // next/previous conversation of the list the page was opened from, r and f press the
  // Reviewed and Flag buttons, t focuses the tag input, ? shows the keys' overlay and Escape
  // closes it. Ignored while typing in a field or with a modifier; every key only clicks or
  // focuses what the page already offers without JavaScript.
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  function reviewHelp(show) {
    var o = document.getElementById("review-help");
    if (!o) return;
    if (show) { o.hidden = false; var b = document.getElementById("review-help-close"); if (b) b.focus(); }
    else {
      // Focus leaves the overlay before it hides: a key sent to a hidden element is lost.
      if (o.contains(document.activeElement)) document.activeElement.blur();
      o.hidden = true;
    }
  }
  document.addEventListener("click", function (ev) {
    if (ev.target.closest("[data-review-help]")) { ev.preventDefault(); reviewHelp(true); return; }
    if (ev.target.closest("#review-help-close") || ev.target.id === "review-help") reviewHelp(false);
  });
  var swallow = false;
  document.addEventListener("keypress", function (ev) {
    if (swallow) { swallow = false; ev.preventDefault(); }
  }, true);
  document.addEventListener("keyup", function () { swallow = false; }, true);
  function press(id) {
    var b = document.getElementById(id);
    if (b && !b.disabled) b.click();
  }
  document.addEventListener("keydown", function (ev) {
    if (!document.getElementById("review")) return;
    if (ev.key === "Escape") { reviewHelp(false); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    var link;
    switch (ev.key) {
      case "j": link = document.getElementById("review-next"); break;
      case "k": link = document.getElementById("review-prev"); break;
      case "r": press("review-reviewed"); break;
      case "f": press("review-flagged"); break;
      case "t":
        var inp = document.getElementById("tag-input");
        if (!inp) return;
        swallow = true; // the key's own character must not land in the input it focused
        inp.focus();
        break;
      case "?": reviewHelp(true); break;
      default: return;
    }
    ev.preventDefault();
    if (link) location.href = link.href;
  });
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
