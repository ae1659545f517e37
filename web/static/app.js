// Parley's few behaviours that are not htmx: copy buttons, and keeping the
// tab title in step with the live chat indicator.
(function () {
  "use strict";

  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = src.value !== undefined ? src.value : src.textContent;
    navigator.clipboard.writeText(text).then(function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = old; }, 1500);
    });
  });

  // The indicator is swapped in by server-sent events; the title follows it.
  function syncTitle() {
    var ind = document.getElementById("chat-indicator");
    if (!ind) return;
    var n = parseInt(ind.getAttribute("data-count") || "0", 10);
    var base = document.title.replace(/^\(\d+\)\s*/, "");
    document.title = n > 0 ? "(" + n + ") " + base : base;
  }
  document.addEventListener("htmx:afterSwap", syncTitle);
  document.addEventListener("htmx:sseMessage", syncTitle);
  document.addEventListener("DOMContentLoaded", syncTitle);
})();
