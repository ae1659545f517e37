// Parley's few behaviours that are not htmx: copy buttons, the tab title
// following the live chat indicator, the 24-hour window countdown, the file
// size check before upload, confirmations, and keeping the newest message
// in view.
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

  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
  }, true);

  // The indicator is swapped in by server-sent events; the title follows it.
  function syncTitle() {
    var ind = document.getElementById("chat-indicator");
    if (!ind) return;
    var n = parseInt(ind.getAttribute("data-count") || "0", 10);
    var base = document.title.replace(/^\(\d+\)\s*/, "");
    document.title = n > 0 ? "(" + n + ") " + base : base;
  }

  // The time left in each 24-hour window, counted down in the browser.
  // When the open chat's window closes, the composer switches to
  // templates only; the server refuses free text then anyway.
  function left(ms) {
    if (ms <= 0) return "templates only";
    var min = Math.ceil(ms / 60000);
    if (min < 60) return min + " min left";
    return Math.floor(min / 60) + " h " + (min % 60) + " min left";
  }
  // Time is the server's (data-now, when the element was drawn) plus what
  // has passed since, so a browser with a wrong clock still counts right.
  function tick() {
    document.querySelectorAll("[data-window-ends]").forEach(function (el) {
      var ends = Date.parse(el.getAttribute("data-window-ends"));
      if (isNaN(ends)) return;
      if (!el._seenAt) el._seenAt = Date.now();
      var serverNow = Date.parse(el.getAttribute("data-now"));
      var now = isNaN(serverNow) ? Date.now() : serverNow + (Date.now() - el._seenAt);
      var ms = ends - now;
      if (el.hasAttribute("data-composer-window")) {
        if (ms <= 0 && !el.classList.contains("window-closed")) {
          el.classList.add("window-closed");
          el.textContent = "The 24-hour window is closed — only an approved template can be sent";
          var form = el.closest("form");
          if (form) form.querySelectorAll("textarea, input[type=file], button[type=submit]").forEach(function (x) { x.disabled = true; });
        } else if (ms > 0) {
          var strong = el.querySelector("strong");
          if (strong) strong.textContent = left(ms);
        }
      } else {
        el.textContent = left(ms);
        el.classList.toggle("window-closed", ms <= 0);
      }
    });
  }

  // Refuse a file over the limit before uploading it.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var err = input.closest("form").querySelector(".file-error");
    var f = input.files && input.files[0];
    if (f && f.size > max) {
      input.value = "";
      if (err) {
        err.textContent = "The file is larger than 16 MB (" + (f.size / 1048576).toFixed(1) + " MB); WhatsApp accepts files up to 16 MB.";
        err.hidden = false;
      }
    } else if (err) {
      err.hidden = true;
      err.textContent = "";
    }
  });

  // Close the page's event stream when the page goes away, so that a
  // stream never outlives its page and holds one of the browser's six
  // connections to the server.
  var streams = [];
  if (window.htmx && htmx.createEventSource) {
    var create = htmx.createEventSource;
    htmx.createEventSource = function (url) {
      var es = create(url);
      streams.push(es);
      return es;
    };
  }
  window.addEventListener("pagehide", function () {
    streams.forEach(function (es) { es.close(); });
    streams = [];
  });

  function scrollMessages() {
    var box = document.getElementById("messages");
    if (box) box.scrollTop = box.scrollHeight;
  }

  function refresh() {
    syncTitle();
    tick();
  }
  document.addEventListener("htmx:afterSwap", refresh);
  document.addEventListener("htmx:sseMessage", function (e) {
    refresh();
    if (e.detail && e.detail.type === "conversation") scrollMessages();
  });
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    scrollMessages();
    setInterval(tick, 15000);
  });
})();
