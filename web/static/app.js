// Parley's few behaviours that are not htmx: copy buttons, the tab title
// following the live chat indicator, the 24-hour window countdown, the file
// size check before upload, confirmations, keeping the newest message in
// view, and the macros panel with its approved templates.
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
          el.textContent = el.getAttribute("data-closed-text") || "The 24-hour window is closed — only an approved template can be sent";
          var form = el.closest("form");
          if (form) {
            form.querySelectorAll("textarea, input[type=file]").forEach(function (x) { x.disabled = true; });
            syncSend(form);
          }
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

  // Refuse a file the chat's provider would refuse before uploading it:
  // a type it never sends, or a size over the limit for its kind (rules
  // by extension, from the server). The server reads the file's bytes and
  // has the last word; this only saves an upload.
  function sizeWords(n) {
    if (n < 1048576) return Math.ceil(n / 1024) + " KB";
    var mb = Math.ceil(n / 1048576 * 10) / 10;
    return (mb % 1 === 0 ? mb.toFixed(0) : mb.toFixed(1)) + " MB";
  }
  // A file's upload shows its bytes and percent under the composer and can
  // be cancelled: the request is aborted, and the server, which stores a
  // file only once it has all of it, keeps nothing.
  function uploadOf(e) {
    var form = e.target;
    if (!form || form.id !== "composer") return null;
    var file = form.querySelector("input[type=file][name=file]");
    var box = form.querySelector("[data-upload-progress]");
    if (!box || !file || !file.files || !file.files.length) return null;
    return { form: form, box: box, size: file.files[0].size };
  }
  document.addEventListener("htmx:xhr:loadstart", function (e) {
    var u = uploadOf(e);
    if (!u || u.box.dataset.uploading) return;
    u.box.dataset.uploading = "1";
    u.box.hidden = false;
    u.box.querySelector("[data-upload-words]").textContent = "Uploading… 0 KB of " + sizeWords(u.size) + " (0 %)";
    u.form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var u = uploadOf(e);
    var d = e.detail || {};
    // The response's own progress events come after the upload's; they
    // are for fewer bytes than the file.
    if (!u || !u.box.dataset.uploading || !d.lengthComputable || d.total < u.size) return;
    var pct = Math.floor(d.loaded * 100 / d.total);
    u.box.querySelector("progress").value = pct;
    u.box.querySelector("[data-upload-words]").textContent = "Uploading… " + sizeWords(Math.min(d.loaded, u.size)) + " of " + sizeWords(u.size) + " (" + pct + " %)";
  });
  function uploadOver(form) {
    var box = form.querySelector("[data-upload-progress]");
    if (!box) return null;
    delete box.dataset.uploading;
    box.hidden = true;
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
    return box;
  }
  document.addEventListener("htmx:xhr:abort", function (e) {
    if (!e.target || e.target.id !== "composer" || !uploadOver(e.target)) return;
    var err = e.target.querySelector(".file-error");
    if (err) { err.textContent = "Upload cancelled. Nothing was sent."; err.hidden = false; }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.target && e.target.id === "composer") uploadOver(e.target);
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-upload-cancel]");
    if (b) htmx.trigger(b.closest("form"), "htmx:abort");
  });
  function fileRefusal(input, f) {
    var rules = {};
    try { rules = JSON.parse(input.getAttribute("data-file-rules") || "{}"); } catch (e) { rules = {}; }
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var cloud = parseInt(input.getAttribute("data-cloud-max-bytes") || "0", 10);
    // Over WhatsApp's limit, a file goes to the tenant's cloud storage
    // and is sent as a link (any type).
    if (cloud > 0 && f.size > max) {
      return f.size <= cloud ? "" : "Your cloud storage takes files up to " + sizeWords(cloud) + "; this one is " + sizeWords(f.size) + ".";
    }
    var dot = f.name.lastIndexOf(".");
    var rule = dot >= 0 ? rules[f.name.slice(dot).toLowerCase()] : null;
    if (rule && rule.refused) return rule.refused;
    if (rule && rule.max && f.size > rule.max) return rule.say + "; this one is " + sizeWords(f.size) + ".";
    if (f.size > max) return "Parley sends files of at most " + sizeWords(max) + "; this one is " + sizeWords(f.size) + ".";
    return "";
  }
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var err = input.closest("form").querySelector(".file-error");
    var f = input.files && input.files[0];
    var why = f ? fileRefusal(input, f) : "";
    var hint = input.closest("form").querySelector("[data-cloud-hint]");
    if (hint) hint.hidden = !(f && f.size > parseInt(input.getAttribute("data-max-bytes"), 10));
    if (why) {
      input.value = "";
      if (err) {
        err.textContent = why + " Nothing was sent.";
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

  // The macros panel is fetched every time it opens: the templates come
  // from the provider then. Macros go into the reply box at the cursor; a
  // template goes in as a block with its service comments and variables.
  function closePanels() {
    document.querySelectorAll("[data-macros-toggle]").forEach(function (t) {
      var panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel && !panel.hidden) {
        panel.hidden = true;
        panel.innerHTML = "";
        t.setAttribute("aria-expanded", "false");
      }
    });
  }
  function openPanel(toggle) {
    var panel = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!panel) return;
    if (!panel.hidden) { closePanels(); return; }
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    panel.innerHTML = '<p class="loading" role="status">Loading macros…</p>';
    htmx.ajax("GET", toggle.getAttribute("data-macros-toggle"), { target: panel, swap: "innerHTML" });
  }
  function slotOf(form) { return form && form.querySelector("[data-template-slot]"); }
  function windowClosed(form) {
    var w = form.querySelector("[data-composer-window]");
    return w ? w.classList.contains("window-closed") : true;
  }
  // Send works for a template always, for text only inside the window.
  function syncSend(form) {
    var send = form.querySelector("[data-template-send]");
    var slot = slotOf(form);
    if (!send || !slot) return;
    send.disabled = !slot.querySelector("[data-template-block]") && windowClosed(form);
  }
  function setTemplate(form, fragment) {
    var slot = slotOf(form);
    if (!slot) return;
    slot.querySelectorAll("[data-template-block]").forEach(function (b) { b.remove(); });
    if (fragment) slot.insertBefore(fragment, slot.firstChild);
    slot.classList.toggle("has-template", !!fragment);
    var ph = slot.querySelector(".tpl-placeholder");
    if (ph) ph.hidden = !!fragment;
    syncSend(form);
  }
  function insertMacro(btn) {
    var form = btn.closest("form");
    var box = form.querySelector("textarea[name=body]");
    if (!box || box.disabled) return;
    setTemplate(form, null);
    var text = btn.getAttribute("data-macro-body");
    var start = box.selectionStart, end = box.selectionEnd;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.selectionStart = box.selectionEnd = start + text.length;
    var status = btn.getAttribute("data-macro-status");
    var chip = form.querySelector("[data-macro-status-chip]");
    if (chip && status) {
      chip.querySelector("input").value = status;
      chip.querySelector("strong").textContent = status;
      chip.hidden = false;
    }
    closePanels();
    box.focus();
  }
  function insertTemplate(btn) {
    var form = btn.closest("form");
    var tpl = btn.closest("li").querySelector("template");
    if (!form || !tpl) return;
    setTemplate(form, tpl.content.cloneNode(true));
    closePanels();
    var first = slotOf(form).querySelector(".tpl-vars input");
    if (first) first.focus();
  }
  // Empty variables, and a media header without its file or link, are
  // caught before anything is sent, next to them.
  function checkTemplate(form) {
    var ok = true;
    form.querySelectorAll("[data-template-block] [data-tpl-media-input]").forEach(function (box) {
      var file = box.querySelector("input[type=file]"), link = box.querySelector("input[type=url]");
      var err = box.querySelector(".field-error");
      var empty = !(file.files && file.files.length) && link.value.trim() === "";
      if (err) { err.textContent = empty ? "Attach the file or give its link." : ""; err.hidden = !empty; }
      if (empty && ok) { file.focus(); ok = false; }
    });
    form.querySelectorAll("[data-template-block] .tpl-vars input").forEach(function (input) {
      var err = input.closest("li").querySelector(".field-error");
      var empty = input.value.trim() === "";
      input.setAttribute("aria-invalid", empty ? "true" : "false");
      if (err) { err.textContent = empty ? "Fill in this variable." : ""; err.hidden = !empty; }
      if (empty && ok) { input.focus(); ok = false; }
    });
    return ok;
  }
  function search(input) {
    var box = input.closest(".macros-panel-body, .start-picker");
    if (!box) return;
    var q = input.value.trim().toLowerCase(), shown = 0;
    box.querySelectorAll("[data-filter]").forEach(function (li) {
      var hit = !q || li.getAttribute("data-filter").toLowerCase().indexOf(q) >= 0;
      li.hidden = !hit;
      if (hit) shown++;
    });
    var none = box.querySelector(".no-match");
    if (none) none.hidden = !q || shown > 0;
  }

  document.addEventListener("click", function (e) {
    var t;
    if ((t = e.target.closest("[data-macros-toggle]"))) openPanel(t);
    else if ((t = e.target.closest("[data-macro-body]"))) insertMacro(t);
    else if ((t = e.target.closest("[data-template-pick]"))) insertTemplate(t);
    else if ((t = e.target.closest("[data-template-remove]"))) setTemplate(t.closest("form"), null);
    else if ((t = e.target.closest("[data-macro-status-clear]"))) {
      var chip = t.closest("[data-macro-status-chip]");
      chip.querySelector("input").value = "";
      chip.hidden = true;
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") closePanels();
  });
  document.addEventListener("input", function (e) {
    var el = e.target;
    if (el.matches("[data-macros-search]")) search(el);
    if (el.matches(".tpl-vars input[data-var]")) {
      var k = el.getAttribute("data-var");
      el.closest("[data-template-block]").querySelectorAll('.tpl-var[data-var="' + k + '"]').forEach(function (s) {
        s.textContent = el.value || "{{" + k + "}}";
      });
    }
  });
  // The preview shows the image the agent picks or links.
  function previewMedia(input) {
    var block = input.closest("[data-template-block]");
    var box = block && block.querySelector(".tpl-media-img");
    if (!box) return;
    if (input.type === "file" && input.files && input.files[0] && input.files[0].type.indexOf("image/") === 0) {
      box.src = URL.createObjectURL(input.files[0]);
    } else if (input.type === "url" && /^https:\/\//.test(input.value.trim())) {
      box.src = input.value.trim();
    }
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-tpl-media-input] input")) previewMedia(e.target);
    var form = e.target.closest("[data-template-form]");
    if (form && e.target.name === "integration") setTemplate(form, null); // another number, other templates
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (form.tagName === "FORM" && form.querySelector("[data-template-block]") && !checkTemplate(form)) e.preventDefault();
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.hasAttribute("data-template-form") && !checkTemplate(form)) e.preventDefault();
  });
  // A template being filled in survives the composer being redrawn (the
  // 24-hour window closing, say): it is carried into the new composer.
  var carried = null;
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    if (e.detail && e.detail.type === "composer") carried = document.querySelector("#composer [data-template-block]");
  });
  function carry() {
    var form = document.getElementById("composer");
    if (carried && form && slotOf(form)) setTemplate(form, carried);
    carried = null;
  }

  function refresh() {
    syncTitle();
    tick();
    document.querySelectorAll("[data-macros-search]").forEach(function (s) { if (s.value) search(s); });
  }
  document.addEventListener("htmx:afterSwap", refresh);
  document.addEventListener("htmx:sseMessage", function (e) {
    refresh();
    if (e.detail && e.detail.type === "composer") carry();
    // Another agent changed the profile on this page (an edit, a merge, an
    // undo): draw it again, unless this agent is typing in its form.
    if (e.detail && e.detail.type === "client") {
      var form = document.querySelector("form.client-form");
      if (!form || !form.contains(document.activeElement)) location.reload();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    scrollMessages();
    setInterval(tick, 15000);
  });
})();
