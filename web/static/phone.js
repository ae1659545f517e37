// The sandbox customer's phone: plays a WhatsApp customer writing to a
// business number through the simulator's phone API (Twilio or 1msg), and
// shows the conversation, polled every second. No framework, no build.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const select = $("phone-integration");
  const fromInput = $("phone-from");
  const nameInput = $("phone-name");
  const list = $("phone-messages");
  const empty = $("phone-empty");
  const chat = $("phone-chat");
  const form = $("phone-compose");
  const textInput = $("phone-text");
  const fileInput = $("phone-file");
  const sendButton = $("phone-send");
  const attachment = $("phone-attachment");
  const fileName = $("phone-file-name");
  const errorBox = $("phone-error");

  const POLL_MS = 1000;
  const errors = { send: "", poll: "" };
  let shown = ""; // messages URL + response text of what the list shows
  let polling = false;
  let pollAgain = false;
  let pollTimer = 0;
  let sending = false;
  let stick = true; // keep the view at the newest message

  // The selected business number: {provider, api, sender, instance}.
  function integration() {
    const opt = select && select.selectedOptions[0];
    if (!opt) return null;
    const d = opt.dataset;
    return { provider: d.provider, api: d.api.replace(/\/$/, ""), sender: d.sender, instance: d.instance };
  }

  function customer() {
    return fromInput.value.trim();
  }

  function messagesURL() {
    const it = integration();
    if (!it || !customer()) return "";
    const q = new URLSearchParams({ customer: customer() });
    if (it.provider === "onemsg") q.set("instance", it.instance);
    else q.set("sender", it.sender);
    return it.api + "/phone/messages?" + q.toString();
  }

  // ---- errors -------------------------------------------------------------

  function setError(kind, msg) {
    errors[kind] = msg;
    const text = [errors.send, errors.poll].filter(Boolean).join("\n");
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  // errorText reads {"error": "..."} from a failed response, or its status.
  async function errorText(res) {
    const body = await res.text();
    try {
      const j = JSON.parse(body);
      if (j && j.error) return j.error;
    } catch (_) { /* not JSON */ }
    return body.trim() || res.status + " " + res.statusText;
  }

  // ---- polling ------------------------------------------------------------

  async function poll() {
    clearTimeout(pollTimer);
    if (polling) { pollAgain = true; return; }
    polling = true;
    try {
      const url = messagesURL();
      if (url) {
        const res = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
        if (!res.ok) throw new Error(await errorText(res));
        const text = await res.text();
        if (url === messagesURL() && url + "\n" + text !== shown) {
          render(JSON.parse(text) || [], !shown.startsWith(url + "\n"));
          shown = url + "\n" + text;
        }
      } else if (shown) {
        render([], true);
        shown = "";
      }
      setError("poll", "");
    } catch (err) {
      setError("poll", "Could not load the conversation: " + err.message);
    } finally {
      polling = false;
      if (pollAgain) { pollAgain = false; poll(); }
      else pollTimer = setTimeout(poll, POLL_MS);
    }
  }

  // ---- rendering ----------------------------------------------------------

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text != null) e.textContent = text;
    return e;
  }

  function timeOf(at) {
    const d = new Date(at);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  const TICKS = { queued: "…", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };

  function messageItem(m) {
    const li = el("li", "phone-msg phone-msg-" + m.direction);
    li.dataset.direction = m.direction;
    li.dataset.status = m.status || "";
    li.dataset.sid = m.sid || "";

    const bubble = el("div", "phone-bubble");
    const urls = m.media_urls || [];
    const types = m.media_content_types || [];
    urls.forEach((url, i) => {
      const type = types[i] || "";
      if (type.startsWith("image/")) {
        const a = el("a", "phone-media phone-media-image");
        a.href = url; a.target = "_blank"; a.rel = "noopener";
        const img = el("img");
        img.src = url; img.alt = "Image (" + type + ")"; img.loading = "lazy";
        a.append(img);
        bubble.append(a);
      } else {
        const a = el("a", "phone-media phone-media-file", type || "file");
        a.href = url; a.target = "_blank"; a.rel = "noopener";
        bubble.append(a);
      }
    });
    if (m.body) bubble.append(el("div", "phone-msg-body", m.body));

    const meta = el("div", "phone-msg-meta");
    meta.append(el("time", "phone-msg-time", timeOf(m.at)));
    if (m.direction === "outbound") {
      let label = m.status || "";
      if (m.status === "failed" && m.error_code) label += " · error " + m.error_code;
      const status = el("span", "phone-msg-status phone-status-" + (m.status || "none"));
      status.append(el("span", "phone-ticks", TICKS[m.status] || ""), " " + label);
      meta.append(status);
    }
    bubble.append(meta);
    li.append(bubble);

    const buttons = m.buttons || [];
    if (buttons.length) {
      const row = el("div", "phone-quick-replies");
      for (const text of buttons) {
        const b = el("button", "phone-quick-reply", text);
        b.type = "button";
        b.dataset.text = text;
        b.disabled = m.status === "failed"; // never reached the phone
        row.append(b);
      }
      li.append(row);
    }
    return li;
  }

  function scrollDown() {
    chat.scrollTop = chat.scrollHeight;
  }

  function render(msgs, fresh) {
    const nearBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
    stick = fresh || nearBottom;
    list.replaceChildren(...msgs.map(messageItem));
    if (empty) empty.hidden = msgs.length > 0;
    if (stick) scrollDown();
  }

  chat.addEventListener("scroll", () => {
    stick = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
  });
  // Images loading, or the error and attachment rows taking room, change
  // sizes without a scroll event: stay at the newest message.
  const keepDown = new ResizeObserver(() => { if (stick) scrollDown(); });
  keepDown.observe(chat);
  keepDown.observe(list);

  // ---- sending ------------------------------------------------------------

  // send posts one customer message; button is a quick reply's text, or "".
  async function send(body, file, button) {
    const it = integration();
    if (!it || sending) return false;
    if (!customer()) {
      setError("send", "Enter your number first.");
      fromInput.focus();
      return false;
    }
    const fd = new FormData();
    if (it.provider === "onemsg") {
      fd.set("instance", it.instance);
      fd.set("from", customer());
      fd.set("sender_name", nameInput.value.trim());
    } else {
      fd.set("sender", it.sender);
      fd.set("from", customer());
      fd.set("profile_name", nameInput.value.trim());
    }
    fd.set("body", body);
    if (file) fd.set("file", file);
    if (button) {
      fd.set("button_text", button);
      if (it.provider !== "onemsg") fd.set("button_payload", button);
    }

    sending = true;
    sendButton.disabled = true;
    setError("send", "");
    let recorded = false; // the simulator took the message (it has a sid)
    try {
      const res = await fetch(it.api + "/phone/send", { method: "POST", body: fd });
      const text = await res.text();
      let j = {};
      try { j = JSON.parse(text) || {}; } catch (_) { j = { error: text.trim() }; }
      recorded = !!j.sid;
      if (res.status === 502) {
        setError("send", "Parley refused the message: " + (j.error || "no reason given"));
      } else if (!res.ok) {
        setError("send", "The sandbox did not send the message: " + (j.error || res.status + " " + res.statusText));
      }
      recorded = recorded || res.ok;
    } catch (err) {
      setError("send", "Could not reach the sandbox: " + err.message);
    } finally {
      sending = false;
      sendButton.disabled = false;
      stick = true;
      poll();
    }
    return recorded;
  }

  function clearFile() {
    fileInput.value = "";
    showFile();
  }

  function showFile() {
    const f = fileInput.files && fileInput.files[0];
    attachment.hidden = !f;
    fileName.textContent = f ? "Attached: " + f.name : "";
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = textInput.value;
    const file = fileInput.files && fileInput.files[0];
    if (!body.trim() && !file) { textInput.focus(); return; }
    if (await send(body, file, "")) {
      textInput.value = "";
      clearFile();
    }
    textInput.focus();
  });

  list.addEventListener("click", (e) => {
    const b = e.target.closest("button.phone-quick-reply");
    if (b && !b.disabled) send(b.dataset.text, null, b.dataset.text);
  });

  fileInput.addEventListener("change", showFile);
  $("phone-file-clear").addEventListener("click", clearFile);

  // Another business or another customer: a different conversation.
  const restart = () => { setError("send", ""); poll(); };
  if (select) select.addEventListener("change", restart);
  fromInput.addEventListener("change", restart);

  poll();
})();
