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
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
