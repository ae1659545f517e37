// Live updates by difference (issue 21): the event stream sends a changed
// chat row, a new or changed message, the open chat's header; this file
// puts each in its place instead of re-rendering the list and the
// conversation. Also: the list's tabs (Mine / Unassigned / All) and
// search, older messages on scroll, and the agent's alerts.
(function () {
  "use strict";

  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content;
  }

  function listUL() { return document.querySelector("#chat-list ul.chat-list"); }
  function me() {
    var l = document.getElementById("chat-list");
    return l ? l.getAttribute("data-me") : "";
  }
  function openChat() {
    var m = location.pathname.match(/^\/chats\/(\d+)$/);
    return m ? m[1] : "";
  }

  // --- the list ---------------------------------------------------------

  function placeRow(li) {
    var ul = listUL();
    if (!ul) return;
    var old = document.getElementById(li.id);
    if (old) old.remove();
    var key = li.getAttribute("data-sort");
    var before = null;
    for (var r = ul.firstElementChild; r; r = r.nextElementSibling) {
      if (r.getAttribute("data-sort") > key) { before = r; break; }
    }
    ul.insertBefore(li, before);
    if (window.htmx) htmx.process(li);
  }

  function setUnread(id, n) {
    var li = document.getElementById("row-" + id);
    if (!li) return;
    li.setAttribute("data-unread", String(n));
    var a = li.querySelector(".chat-item");
    var badge = li.querySelector(".badge");
    if (a) a.classList.toggle("unread", n > 0);
    if (n > 0) {
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge";
        badge.title = "Client messages you have not read";
        li.querySelector(".chat-top").appendChild(badge);
      }
      badge.textContent = String(n);
    } else if (badge) {
      badge.remove();
    }
  }

  function tab() {
    var t = document.querySelector(".list-tab[aria-selected=true]");
    return t ? t.getAttribute("data-tab") : "all";
  }

  function inTab(li, which) {
    var a = li.getAttribute("data-assignee");
    if (which === "mine") return a === me();
    if (which === "unassigned") return a === "";
    return true;
  }

  // filter shows the rows of the chosen tab that match the search, and
  // counts each tab's rows.
  function filter() {
    var ul = listUL();
    if (!ul) return;
    var q = (document.querySelector("[data-chat-search]") || {}).value || "";
    q = q.trim().toLowerCase();
    var which = tab(), counts = { mine: 0, unassigned: 0, all: 0 }, shown = 0;
    for (var li = ul.firstElementChild; li; li = li.nextElementSibling) {
      ["mine", "unassigned", "all"].forEach(function (t) { if (inTab(li, t)) counts[t]++; });
      var ok = inTab(li, which) && (!q || li.textContent.toLowerCase().indexOf(q) >= 0);
      li.hidden = !ok;
      if (ok) shown++;
    }
    document.querySelectorAll("[data-count-of]").forEach(function (el) {
      el.textContent = String(counts[el.getAttribute("data-count-of")]);
    });
    var empty = document.querySelector("#chat-list .empty-list");
    if (empty) {
      empty.hidden = shown > 0;
      empty.textContent = counts.all === 0 ? "No live chats." : "No chat matches.";
    }
  }

  document.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest(".list-tab");
    if (!t) return;
    document.querySelectorAll(".list-tab").forEach(function (b) {
      b.setAttribute("aria-selected", b === t ? "true" : "false");
    });
    try { localStorage.setItem("parley.tab", t.getAttribute("data-tab")); } catch (_) {}
    filter();
  });
  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-chat-search]")) filter();
  });

  // --- the conversation -------------------------------------------------

  function scroller() { return document.getElementById("messages"); }

  function putMessage(li) {
    var old = document.getElementById(li.id);
    if (old) { old.replaceWith(li); if (window.htmx) htmx.process(li); return; }
    var ol = document.querySelector("#messages ol.message-list");
    if (!ol) return;
    var sc = scroller();
    var atEnd = sc && sc.scrollHeight - sc.scrollTop - sc.clientHeight < 80;
    ol.appendChild(li);
    if (window.htmx) htmx.process(li);
    if (atEnd) sc.scrollTop = sc.scrollHeight;
  }

  // Older messages: the loader's answer goes on top, the view stays put.
  document.addEventListener("htmx:afterRequest", function (e) {
    var loader = e.detail.elt;
    if (!loader.hasAttribute || !loader.hasAttribute("data-older-loader") || !e.detail.successful) return;
    var frag = parse(e.detail.xhr.responseText);
    var ol = document.querySelector("#messages ol.message-list");
    var sc = scroller();
    if (!ol) return;
    var h = sc ? sc.scrollHeight : 0;
    var older = frag.querySelector("ol.older-messages");
    var items = older ? Array.prototype.slice.call(older.children) : [];
    var first = ol.firstChild;
    items.forEach(function (li) { if (!document.getElementById(li.id)) ol.insertBefore(li, first); });
    var next = frag.querySelector("[data-older-loader]");
    if (next) { loader.replaceWith(next); if (window.htmx) htmx.process(next); } else { loader.remove(); }
    if (sc) sc.scrollTop += sc.scrollHeight - h;
  });

  // --- alerts -----------------------------------------------------------

  var audio;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880;
      g.gain.value = 0.08;
      o.connect(g); g.connect(audio.destination);
      o.start(); o.stop(audio.currentTime + 0.15);
    } catch (_) {}
  }

  function alertFor(a) {
    var body = document.body;
    if (String(a["case"]) === openChat() && !document.hidden) return; // looking at it
    if (body.getAttribute("data-alert-sound") === "1") beep();
    if (body.getAttribute("data-alert-desktop") === "1" && "Notification" in window && Notification.permission === "granted") {
      var n = new Notification(a.name, { body: a.preview, tag: "parley-chat-" + a["case"] });
      n.onclick = function () { window.focus(); location.href = "/chats/" + a["case"]; };
    }
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-ask-notifications]");
    if (b && "Notification" in window) {
      Notification.requestPermission().then(function (p) {
        var s = document.querySelector("[data-notification-permission]");
        if (s) s.textContent = p;
      });
    }
  });

  // --- the stream -------------------------------------------------------

  var handlers = {
    row: function (d) {
      var li = parse(d).firstElementChild;
      if (!li) return;
      var a = li.querySelector(".chat-item");
      if (a) a.classList.toggle("current", li.id === "row-" + openChat());
      placeRow(li);
      filter();
    },
    unrow: function (d) {
      var li = document.getElementById("row-" + d.trim());
      if (li) li.remove();
      filter();
    },
    unread: function (d) {
      var p = d.trim().split(" ");
      setUnread(p[0], parseInt(p[1], 10) || 0);
    },
    msg: function (d) {
      var li = parse(d).firstElementChild;
      if (li) putMessage(li);
    },
    unmsg: function (d) {
      var li = document.getElementById(d.trim());
      if (li) li.remove();
    },
    // The stream's first events (after a reconnect too) are all in.
    synced: function () {
      var b = document.body;
      b.setAttribute("data-synced", String((parseInt(b.getAttribute("data-synced"), 10) || 0) + 1));
    },
    alert: function (d) {
      try { alertFor(JSON.parse(d)); } catch (_) {}
    }
  };

  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var h = handlers[e.detail && e.detail.type];
    if (!h) return;
    e.preventDefault();
    h(e.detail.data);
  });
  // The whole list after a (re)connect: filters apply again.
  document.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail && e.detail.type === "chats") filter();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var saved = null;
    try { saved = localStorage.getItem("parley.tab"); } catch (_) {}
    if (saved) {
      document.querySelectorAll(".list-tab").forEach(function (b) {
        b.setAttribute("aria-selected", b.getAttribute("data-tab") === saved ? "true" : "false");
      });
    }
    filter();
    var sc = scroller();
    if (sc) sc.scrollTop = sc.scrollHeight;
  });
})();
