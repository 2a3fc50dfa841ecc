"""The calls page's script and style sheet, served as files so the Content-Security-Policy can forbid
inline script (docs/screen.md, "Security"). The script builds every element with ``textContent``: no
text from ITFlow or the PBX is ever parsed as HTML."""

from __future__ import annotations

__all__ = ["APP_CSS", "APP_JS"]

APP_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2430; }
header { background: #1d2430; color: #fff; padding: .6rem 1rem; display: flex; gap: 1rem;
         align-items: center; flex-wrap: wrap; }
header h1 { font-size: 1.1rem; margin: 0; }
header .who { margin-left: auto; }
header form { display: inline; }
button, .button { font: inherit; padding: .35rem .8rem; border-radius: .3rem; border: 1px solid #8894a8;
                  background: #fff; color: #1d2430; cursor: pointer; text-decoration: none; }
button.primary { background: #2357d9; color: #fff; border-color: #2357d9; }
main { padding: 1rem; max-width: 60rem; margin: 0 auto; }
.notice { background: #fff4d6; border: 1px solid #e0b84a; padding: .6rem .8rem; border-radius: .3rem;
          margin-bottom: .8rem; }
.notice.error { background: #fde3e3; border-color: #d66; }
.hidden { display: none; }
.call { background: #fff; border-radius: .4rem; padding: .7rem .9rem; margin-bottom: .6rem;
        border-left: .4rem solid #8894a8; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.call.ringing { border-left-color: #e0a020; }
.call.mine { box-shadow: 0 0 0 2px #e0a020; }
.call.answered { border-left-color: #2a9d55; }
.call.voicemail { border-left-color: #7b61c9; }
.call.ended { border-left-color: #b8bfcc; opacity: .92; }
.call.focus { box-shadow: 0 0 0 2px #2357d9; }
.call .who { font-size: 1.15rem; font-weight: 600; }
.call .num { color: #4a5568; }
.call .state { font-weight: 600; }
.call .links a { margin-right: .8rem; }
.call ul { margin: .3rem 0 0 1.1rem; padding: 0; }
.empty { color: #6b7280; }
form.login, form.dial { background: #fff; padding: 1rem; border-radius: .4rem; max-width: 24rem; }
form.login label, form.dial label { display: block; margin: .6rem 0 .2rem; }
form.login input { width: 100%; padding: .35rem; box-sizing: border-box; }
"""

APP_JS = r"""
"use strict";
(function () {
  const body = document.body;
  const mine = (body.dataset.extensions || "").split(",").filter(Boolean);
  const focus = body.dataset.focus || "";
  const list = document.getElementById("calls");
  const calls = new Map();
  const notified = new Set();

  const insecure = document.getElementById("insecure");
  if (!window.isSecureContext) {
    insecure.classList.remove("hidden");
  }
  const handlerUrl = location.origin + "/calls/dial?to=%s";
  const telButton = document.getElementById("register-tel");
  // Browsers accept the handler only from a click (user activation) in a secure context; the browser
  // then asks once whether this page may open tel: links (docs/screen.md).
  function registerTel() {
    if (!window.isSecureContext || !navigator.registerProtocolHandler) {
      telButton.textContent = "tel: links need HTTPS";
      return;
    }
    try {
      navigator.registerProtocolHandler("tel", handlerUrl);
      telButton.textContent = "tel: links open here";
      body.dataset.telHandler = "asked";
    } catch (e) {
      telButton.textContent = "tel: handler refused";
    }
  }
  if (telButton) telButton.addEventListener("click", registerTel);
  const notifyButton = document.getElementById("allow-notifications");
  if (notifyButton && window.Notification) {
    notifyButton.addEventListener("click", () => Notification.requestPermission());
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function link(href, text) {
    const a = el("a", "", text);
    if (/^https?:\/\//.test(href)) a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }
  function who(c) {
    const p = c.party || {};
    if (p.match === "unknown") return c.caller_name ? "Unknown: " + c.caller_name : "Unknown caller";
    if (p.match === "internal") return "Internal " + c.number;
    if (p.match === "ambiguous") return "Ambiguous: " + (p.display || "several parties");
    return p.name || p.display || c.number;
  }
  function stateText(c) {
    if (c.state === "ringing") {
      if (c.ringing.length) return "Ringing " + c.ringing.join(", ");
      return c.queue ? "Waiting in queue " + c.queue : "Ringing";
    }
    const name = c.answered_by_name ? " (" + c.answered_by_name + ")" : "";
    const by = c.answered_by ? "answered by " + c.answered_by + name : "";
    if (c.state === "answered") return by;
    if (c.state === "voicemail") return "In voicemail";
    if (c.outcome === "answered" || by) return "Ended, " + by;
    return c.outcome ? "Ended: " + c.outcome : "Ended";
  }
  function card(c) {
    const isMine = c.state === "ringing" && c.ringing.some((e) => mine.includes(e));
    const cls = "call " + c.state + (isMine ? " mine" : "") + (c.linkedid === focus ? " focus" : "");
    const box = el("article", cls);
    box.dataset.linkedid = c.linkedid;
    box.dataset.match = (c.party || {}).match || "unknown";
    box.appendChild(el("div", "who", who(c)));
    const p = c.party || {};
    const kind = p.kind && p.kind !== "contact" ? " (" + p.kind + ")" : "";
    if (p.client_name) box.appendChild(el("div", "client", p.client_name + kind));
    const e164 = c.e164 && c.e164 !== c.readable ? "  " + c.e164 : "";
    box.appendChild(el("div", "num", (c.readable || c.number) + e164));
    box.appendChild(el("div", "state", stateText(c)));
    const links = el("div", "links");
    const l = p.links || {};
    if (l.client) links.appendChild(link(l.client, "Client overview"));
    if (l.contact) links.appendChild(link(l.contact, "Contact"));
    if (c.ticket && c.ticket.url) {
      links.appendChild(link(c.ticket.url, "Ticket " + c.ticket.id + " (opened for this call)"));
    }
    box.appendChild(links);
    if (p.candidates) {
      const ul = el("ul", "candidates");
      for (const cand of p.candidates) {
        const li = el("li");
        if (cand.url) li.appendChild(link(cand.url, cand.name + ", " + cand.client_name));
        else li.textContent = cand.name + ", " + cand.client_name;
        ul.appendChild(li);
      }
      box.appendChild(ul);
    }
    const ot = c.open_tickets;
    if (ot && ot.status === "ok" && ot.tickets.length) {
      box.appendChild(el("div", "", "Open tickets:"));
      const ul = el("ul", "open-tickets");
      for (const t of ot.tickets) {
        const li = el("li");
        li.appendChild(link(t.url, (t.number || "#" + t.id) + " " + t.subject));
        ul.appendChild(li);
      }
      box.appendChild(ul);
    } else if (ot && ot.status === "ok") {
      box.appendChild(el("div", "open-tickets-none", "No open tickets"));
    } else if (ot) {
      box.appendChild(el("div", "open-tickets-none", "Open tickets: this ITFlow cannot list them by client"));
    }
    return box;
  }
  function notify(c) {
    if (c.state !== "ringing" || notified.has(c.linkedid)) return;
    if (!c.ringing.some((e) => mine.includes(e))) return;
    notified.add(c.linkedid);
    if (!window.Notification || Notification.permission !== "granted") return;
    const p = c.party || {};
    const n = new Notification("Call from " + who(c), {
      body: [p.client_name || "", c.readable || c.number].filter(Boolean).join("\n"),
      tag: "pbxb-" + c.linkedid,
    });
    n.onclick = () => { window.focus(); n.close(); };
  }
  function render() {
    list.textContent = "";
    const all = Array.from(calls.values());
    const live = all.filter((c) => c.state !== "ended").sort((a, b) => a.started - b.started);
    const when = (c) => c.ended || c.started;
    const done = all.filter((c) => c.state === "ended").sort((a, b) => when(b) - when(a));
    if (!all.length) list.appendChild(el("p", "empty", "No calls yet."));
    for (const c of live.concat(done)) list.appendChild(card(c));
  }
  function connect() {
    const src = new EventSource("/calls/events");
    src.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "snapshot") {
        calls.clear();
        for (const c of msg.calls) calls.set(c.linkedid, c);
        // /calls/<linkedid> (e.g. from a journal note) of a call no longer among the recent ones
        const gone = document.getElementById("gone");
        if (gone && focus && !calls.has(focus)) gone.classList.remove("hidden");
      } else if (msg.type === "call") {
        calls.set(msg.call.linkedid, msg.call);
        notify(msg.call);
      } else if (msg.type === "signed-out") {
        location.href = "/calls/login";
      }
      body.dataset.connected = "yes";
      render();
    };
    src.onerror = () => { body.dataset.connected = "no"; };
  }
  render();
  connect();
})();
"""
