// Parley's keyboard (the "?" overlay lists the keys) and the drafts kept
// per chat in this browser until sent.
//
// - In the reply box, Enter sends and Shift+Enter breaks the line; an
//   agent's setting swaps them (body[data-enter="newline"]). Ctrl+Enter
//   always sends.
// - Enter in any other field of the reply form (the macros search, a
//   template's variables, reply buttons) never sends: in the macros search
//   it picks the highlighted macro.
// - "/" at the start of the reply, or Ctrl+K, opens the macros panel; the
//   arrows move in it, Enter picks, Escape goes back to the reply box.
// - Alt+Up / Alt+Down open the previous / next chat of the list.
(function () {
  "use strict";

  var DRAFT = "parley:draft:";

  function replyBox() {
    var b = document.querySelector("#composer textarea[name=body]");
    return b && !b.disabled ? b : null;
  }
  function caseOf(box) {
    var form = box && box.closest("form");
    var m = form && (form.getAttribute("hx-post") || "").match(/^\/chats\/(\d+)\/reply$/);
    return m ? m[1] : "";
  }
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // ---- Drafts ----------------------------------------------------------
  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function saveDraft(box) {
    var id = caseOf(box), ls = store();
    if (!id || !ls) return;
    try {
      if (box.value.trim() === "") ls.removeItem(DRAFT + id);
      else ls.setItem(DRAFT + id, box.value);
    } catch (e) { /* storage full or refused: the draft stays in the box only */ }
  }
  // A composer drawn with an empty box gets the chat's draft back.
  function restoreDraft() {
    var box = document.querySelector("#composer textarea[name=body]");
    var id = caseOf(box), ls = store();
    if (!id || !ls || box.disabled || box.value !== "") return;
    var d = ls.getItem(DRAFT + id);
    if (d) box.value = d;
  }
  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("#composer textarea[name=body]")) saveDraft(e.target);
  });
  // A reply being sent is no longer a draft. A refused one comes back
  // with its text in the box, and is kept again.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var f = e.detail && e.detail.elt;
    var ls = store();
    if (!f || f.id !== "composer" || !ls) return;
    var id = caseOf(f.querySelector("textarea[name=body]"));
    if (id) ls.removeItem(DRAFT + id);
  });
  function composerDrawn() {
    var box = document.querySelector("#composer textarea[name=body]");
    if (box && box.value.trim() !== "") saveDraft(box);
    else restoreDraft();
  }

  // Logging out forgets this browser's drafts (a shared computer).
  document.addEventListener("submit", function (e) {
    var ls = store();
    if (!ls || !e.target.matches || !e.target.matches('form[action="/logout"]')) return;
    for (var i = ls.length - 1; i >= 0; i--) {
      var k = ls.key(i);
      if (k && k.indexOf(DRAFT) === 0) ls.removeItem(k);
    }
  });

  // ---- Sending with Enter ------------------------------------------------
  function enterSends() {
    return document.body.getAttribute("data-enter") !== "newline";
  }
  function send(form) {
    var btn = form.querySelector("[data-template-send]");
    if (btn && btn.disabled) return;
    var box = form.querySelector("textarea[name=body]");
    var hasTemplate = !!form.querySelector("[data-template-block]");
    var file = form.querySelector("input[type=file][name=file]");
    var hasFile = file && file.files && file.files.length > 0;
    if (!hasTemplate && !hasFile && (!box || box.value.trim() === "")) return;
    if (form.requestSubmit) form.requestSubmit(btn || undefined);
    else if (btn) btn.click();
  }

  // ---- The macros panel from the keyboard --------------------------------
  function toggle() { return document.querySelector("#composer [data-macros-toggle]"); }
  function panel() {
    var t = toggle();
    return t && document.getElementById(t.getAttribute("aria-controls"));
  }
  function openMacros() {
    var t = toggle(), p = panel();
    if (!t || !p) return false;
    if (p.hidden) t.click(); // app.js fetches it; the search has autofocus
    var s = p.querySelector("[data-macros-search]");
    if (s) s.focus();
    return true;
  }
  function items(p) {
    return Array.prototype.filter.call(
      p.querySelectorAll("[data-macro-body], [data-template-pick]"),
      function (b) { return !b.closest("li[hidden]") && !b.disabled && b.offsetParent !== null; });
  }
  function moveIn(p, from, step) {
    var list = items(p);
    if (!list.length) return;
    var i = list.indexOf(from);
    var next = i < 0 ? (step > 0 ? 0 : list.length - 1) : i + step;
    if (next < 0) { var s = p.querySelector("[data-macros-search]"); if (s) s.focus(); return; }
    if (next >= list.length) next = list.length - 1;
    list[next].focus();
    list[next].scrollIntoView({ block: "nearest" });
  }
  // Once the panel's content arrives, the search takes the focus.
  document.addEventListener("htmx:afterSwap", function (e) {
    var p = panel();
    if (p && e.detail && e.detail.target === p) {
      var s = p.querySelector("[data-macros-search]");
      if (s) s.focus();
    }
    if (e.detail && e.detail.target && e.detail.target.id === "composer-slot") composerDrawn();
  });
  document.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail && e.detail.type === "composer") composerDrawn();
  });

  // ---- Moving between chats ---------------------------------------------
  function goChat(step) {
    var list = Array.prototype.slice.call(document.querySelectorAll(".chat-list .chat-item"));
    if (!list.length) return false;
    var i = -1;
    list.forEach(function (a, k) { if (a.classList.contains("current")) i = k; });
    var next = i < 0 ? (step > 0 ? 0 : list.length - 1) : i + step;
    if (next < 0 || next >= list.length) return false;
    var box = replyBox();
    if (box) saveDraft(box);
    window.location.assign(list[next].href);
    return true;
  }

  // ---- The "?" overlay ----------------------------------------------------
  var helpFrom = null;
  function openHelp() {
    var d = document.getElementById("keys-help");
    if (!d || d.open) return;
    helpFrom = document.activeElement;
    d.showModal();
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-keys-help-open]")) openHelp();
    if (e.target.closest("[data-keys-help-close]")) document.getElementById("keys-help").close();
  });
  document.addEventListener("close", function (e) {
    if (e.target.id === "keys-help" && helpFrom && helpFrom.focus) helpFrom.focus();
  }, true);

  // Capturing, ahead of app.js (which closes the panel on Escape).
  window.addEventListener("keydown", function (e) {
    var el = e.target;
    // A browser that drops the keypress of a handled keydown never sends
    // it: the flag lasts until the next key only.
    swallow = false;
    if (e.defaultPrevented || e.isComposing || e.keyCode === 229) return;
    var form = el.closest && el.closest("form");
    var inComposer = form && form.id === "composer";
    var inPanel = el.closest && el.closest(".macros-panel");

    if (e.key === "Enter" && el.matches && el.matches("[data-macros-search]")) {
      // Never submits the form around it: picks the first match, if any.
      e.preventDefault();
      var p = el.closest(".macros-panel, .start-picker") || el.parentNode;
      var first = items(p)[0];
      if (first && el.value.trim() !== "") first.click();
      return;
    }
    if (inPanel && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      moveIn(inPanel, el.matches("[data-macros-search]") ? null : el, e.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (e.key === "Escape" && (inPanel || inComposer)) {
      // app.js closes the panel on this same Escape; the focus goes back
      // to the reply box first, rather than to the page.
      var box = replyBox();
      if (box) box.focus();
      return;
    }
    if (inComposer && el.matches("textarea[name=body]")) {
      if (e.key === "Enter") {
        var ctrl = e.ctrlKey || e.metaKey;
        var sends = ctrl || (enterSends() ? !e.shiftKey : e.shiftKey);
        if (sends && !e.altKey) {
          e.preventDefault();
          swallow = true;
          send(form);
        }
        return;
      }
      if (e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey && el.value.slice(0, el.selectionStart).trim() === "" && el.selectionStart === el.selectionEnd) {
        e.preventDefault();
        swallow = true;
        openMacros();
        return;
      }
    }
    // Enter in a one-line field of the reply form never sends the reply.
    if (e.key === "Enter" && oneLine(el)) {
      e.preventDefault();
      return;
    }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "k" || e.key === "K")) {
      if (openMacros()) e.preventDefault();
      return;
    }
    if (e.altKey && !e.ctrlKey && !e.metaKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
      if (goChat(e.key === "ArrowDown" ? 1 : -1)) e.preventDefault();
      return;
    }
    if (e.key === "?" && !typing(el) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      openHelp();
    }
  }, true);

  // A one-line field of the reply form submits it "implicitly" on Enter:
  // the browser clicks Send for it, in the keypress after the keydown.
  // Neither gets through: only Send itself, Enter in the reply box and
  // Ctrl+Enter send.
  function oneLine(el) {
    return el && el.tagName === "INPUT" && !/^(submit|button|checkbox|radio|file|reset|image)$/.test(el.type) &&
      el.form && el.form.id === "composer";
  }
  // (A key that did something here — an Enter that sent, a "/" that
  // opened the macros — has its keypress dropped too: nothing is typed.)
  var swallow = false;
  window.addEventListener("keypress", function (e) {
    if ((e.key === "Enter" && oneLine(e.target)) || swallow) e.preventDefault();
    swallow = false;
  }, true);
  window.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("#composer button[type=submit]");
    if (btn && oneLine(document.activeElement)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  // ---- The client panel as a drawer (below 1000 px) ----------------------
  var drawerFrom = null;
  function drawer(open) {
    var panel = document.getElementById("client-panel");
    var t = document.querySelector("[data-drawer-toggle]");
    if (!panel || !t) return;
    panel.classList.toggle("drawer-open", open);
    t.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      drawerFrom = document.activeElement;
      var first = panel.querySelector("[data-drawer-close]");
      if (first) first.focus();
    } else if (drawerFrom && drawerFrom.focus) {
      drawerFrom.focus();
      drawerFrom = null;
    }
  }
  document.addEventListener("click", function (e) {
    if (!e.target.closest) return;
    if (e.target.closest("[data-drawer-toggle]")) {
      var panel = document.getElementById("client-panel");
      drawer(!(panel && panel.classList.contains("drawer-open")));
    } else if (e.target.closest("[data-drawer-close]")) {
      drawer(false);
    }
  });
  // While the drawer is open, Tab and Shift+Tab go round inside it; Escape
  // closes it.
  function focusables(el) {
    return Array.prototype.filter.call(
      el.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])'),
      function (x) { return x.getClientRects().length > 0; });
  }
  window.addEventListener("keydown", function (e) {
    var panel = document.getElementById("client-panel");
    if (!panel || !panel.classList.contains("drawer-open")) return;
    if (e.key === "Escape") { drawer(false); return; }
    if (e.key !== "Tab") return;
    var items = focusables(panel);
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1], at = document.activeElement;
    if (!panel.contains(at) || (e.shiftKey ? at === first : at === last)) {
      e.preventDefault();
      (e.shiftKey ? last : first).focus();
    }
  });

  // ---- New client messages, read out by screen readers -------------------
  // Whether the conversation is drawn again or only appended to, each
  // client message not seen before is announced once.
  var heard = null;
  function listen() {
    var box = document.getElementById("messages");
    var say = document.getElementById("live-announcer");
    if (!box || !say) return;
    var ids = {};
    box.querySelectorAll(".msg-in[id]").forEach(function (m) { ids[m.id] = true; });
    if (heard === null) { heard = ids; return; }
    var fresh = [];
    box.querySelectorAll(".msg-in[id]").forEach(function (m) {
      if (!heard[m.id]) {
        var body = m.querySelector(".msg-body");
        fresh.push(body ? body.textContent.trim() : "a message");
      }
    });
    heard = ids;
    if (!fresh.length) return;
    var who = document.querySelector(".conv-title h2, .case-title h1");
    say.textContent = "New message" + (who ? " from " + who.textContent.trim() : "") + ": " + fresh.join(" · ");
  }
  document.addEventListener("DOMContentLoaded", function () {
    listen();
    var box = document.getElementById("messages");
    if (box && window.MutationObserver) new MutationObserver(listen).observe(box, { childList: true, subtree: true });
  });

  // The skip link to the reply box shows where there is one.
  function syncSkip() {
    var link = document.querySelector("[data-skip-reply]");
    if (link) link.hidden = !replyBox();
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a.skip-link");
    if (!a) return;
    var target = document.querySelector(a.getAttribute("href"));
    if (target) { e.preventDefault(); target.focus(); }
  });
  document.addEventListener("htmx:afterSwap", syncSkip);
  document.addEventListener("DOMContentLoaded", function () {
    restoreDraft();
    syncSkip();
  });
})();
