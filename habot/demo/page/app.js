// The demo's page: shows what the local Slack holds for the chosen persona and acts as
// them. Renders the Block Kit subset habot uses; any other block is shown as raw JSON.
"use strict";

const $ = (id) => document.getElementById(id);
let state = null;
let me = localStorage.getItem("habot-demo-persona") || "";
let tab = "channel";
let version = -1;
let polling = 0;

const EMOJI = {
  large_green_circle: "🟢", large_orange_circle: "🟠", rotating_light: "🚨", warning: "⚠️",
  red_circle: "🔴", electric_plug: "🔌", white_circle: "⚪", black_circle: "⚫",
  grey_question: "❔", white_check_mark: "✅", no_entry: "⛔", x: "❌", hourglass: "⏳",
  mute: "🔇", loud_sound: "🔊", lock: "🔒", eyes: "👀", bell: "🔔", arrows_counterclockwise: "🔄",
  hourglass_flowing_sand: "⏳", gear: "⚙️", page_facing_up: "📄", information_source: "ℹ️",
  no_entry_sign: "🚫", heavy_multiplication_x: "✖️", octagonal_sign: "🛑", alarm_clock: "⏰",
  ballot_box_with_check: "☑️", calendar: "📆", key: "🔑", link: "🔗", mag: "🔍", pager: "📟",
  snowflake: "❄️", pushpin: "📌",
};

function esc(text) {
  return String(text).replace(/&(?!(amp|lt|gt|quot|#\d+);)/g, "&amp;")
    .replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function personaName(user) {
  const p = (state && state.personas || []).find((x) => x.user === user);
  if (p) return `${p.name} (${p.role})`;
  if (user === "U0HABOT") return "habot";
  return user;
}

function when(ts, format, fallback) {
  const at = new Date(Number(ts) * 1000);
  if (isNaN(at)) return esc(fallback);
  const today = new Date();
  const day = new Date(at); day.setHours(0, 0, 0, 0);
  const now = new Date(today); now.setHours(0, 0, 0, 0);
  const diff = Math.round((now - day) / 86400000);
  const pretty = diff === 0 ? "today" : diff === 1 ? "yesterday" : diff === -1 ? "tomorrow"
    : at.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const hm = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const hms = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const text = format.replace("{date_short_pretty}", pretty).replace("{time_secs}", hms)
    .replace("{time}", hm).replace("{date_short}", at.toLocaleDateString())
    .replace("{date}", at.toDateString());
  return `<span class="date" title="${esc(fallback)}">${esc(text)}</span>`;
}

function token(inner) {
  // One <…> token of Slack's mrkdwn: mentions, channels, dates, links.
  if (inner.startsWith("@")) return `<span class="mention">@${esc(personaName(inner.slice(1).split("|")[0]))}</span>`;
  if (inner.startsWith("#")) {
    const id = inner.slice(1).split("|")[0];
    const name = state && state.channel.id === id ? state.channel.name : id;
    return `<span class="mention">#${esc(name)}</span>`;
  }
  if (inner.startsWith("!subteam^")) return `<span class="mention">@${esc(inner.slice(9).split("|")[0])}</span>`;
  if (inner === "!here" || inner === "!channel") return `<span class="mention">@${inner.slice(1)}</span>`;
  if (inner.startsWith("!date^")) {
    const [head, fallback = ""] = inner.split("|");
    const [, ts, format = "{date_short_pretty} {time}"] = head.split("^");
    return when(ts, format, fallback);
  }
  const [url, label] = inner.split("|");
  const here = url.match(/\/archives\/[A-Z0-9]+\/p(\d+)$/);
  if (here && url.startsWith(location.origin)) {  // a message link: it stays on this page
    return `<a href="#p${here[1]}" class="message-link">${esc(label || url)}</a>`;
  }
  if (/^(https?:\/\/|\/ui\/file\/)/.test(url)) {
    return `<a href="${esc(url)}" target="_blank" rel="noopener">${esc(label || url)}</a>`;
  }
  return esc(`<${inner}>`);
}

function inline(text) {
  // Slack-escaped text (no bare < or >): tokens first, then *bold* _italic_ ~strike~ `code`.
  let out = "";
  let last = 0;
  const re = /<([^<>]+)>/g;
  let m;
  while ((m = re.exec(text))) {
    out += style(esc(text.slice(last, m.index)));
    out += token(m[1]);
    last = re.lastIndex;
  }
  out += style(esc(text.slice(last)));
  return out;
}

function style(html) {
  return html
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>")
    .replace(/(^|[\s(])~([^~\n]+)~/g, "$1<s>$2</s>")
    .replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all)
    .replace(/\n/g, "<br>");
}

function mrkdwn(text) {
  // ```pre``` blocks apart; everything else inline.
  return String(text).split("```").map((part, i) => (i % 2
    ? `<pre>${esc(part.replace(/^\n/, ""))}</pre>` : inline(part))).join("");
}

function textOf(obj) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text) : esc(obj.text);
}

function button(el, message, blockId) {
  const style = el.style ? ` class="${esc(el.style)}"` : "";
  const data = `data-ts="${esc(message.ts)}" data-block-id="${esc(blockId || "")}" data-action-id="${esc(el.action_id)}"`;
  const confirm = el.confirm ? ` data-confirm='${esc(JSON.stringify(el.confirm))}'` : "";
  return `<button${style} ${data}${confirm}>${esc(el.text && el.text.text || "button")}</button>`;
}

function block(b, message) {
  switch (b.type) {
    case "header": return `<div class="block header">${textOf(b.text)}</div>`;
    case "divider": return `<hr class="divider">`;
    case "context":
      return `<div class="block context">${(b.elements || []).map((e) => (e.type === "image"
        ? `[${esc(e.alt_text || "image")}]` : textOf(e))).join(" ")}</div>`;
    case "section": {
      let html = `<div class="block section">${textOf(b.text)}`;
      if (b.fields) html += `<div class="block fields">${b.fields.map((f) => `<div>${textOf(f)}</div>`).join("")}</div>`;
      if (b.accessory && b.accessory.type === "button") html += button(b.accessory, message, b.block_id);
      return html + "</div>";
    }
    case "actions":
      return `<div class="block actions">${(b.elements || []).map((e) => (e.type === "button"
        ? button(e, message, b.block_id) : raw(e))).join("")}</div>`;
    default: return raw(b);
  }
}

function raw(b) {
  return `<pre class="unknown" title="shown as sent: this page does not draw this kind of block">${esc(JSON.stringify(b, null, 2))}</pre>`;
}

function files(message) {
  return (message.files || []).map((f) => `<div class="file">📄 <a href="${esc(f.url)}" target="_blank">${esc(f.title)}</a> <span class="hint">${esc(f.name)}</span></div>`).join("");
}

function renderMessage(m) {
  const body = m.blocks && m.blocks.length ? m.blocks.map((b) => block(b, m)).join("") : mrkdwn(m.text);
  const cls = m.only_for ? "message ephemeral" : "message";
  const only = m.only_for ? `<span class="only">Only visible to you</span>` : "";
  const at = new Date(Number(m.ts.split(".")[0]) * 1000).toLocaleTimeString();
  const id = `p${m.ts.replace(".", "")}`;
  return `<div class="${cls}${id === linked ? " linked" : ""}" id="${esc(id)}" data-ts="${esc(m.ts)}"><span class="who">${esc(personaName(m.user))}</span>`
    + `<span class="when">${esc(at)}</span> ${only}<div class="body">${body}${files(m)}</div></div>`;
}

function renderList(list) {
  const top = list.filter((m) => !m.thread_ts);
  return top.map((m) => {
    const replies = list.filter((r) => r.thread_ts === m.ts);
    const thread = replies.length
      ? `<div class="thread" data-thread="${esc(m.ts)}"><div class="thread-label">${replies.length} repl${replies.length === 1 ? "y" : "ies"}</div>${replies.map(renderMessage).join("")}</div>` : "";
    return renderMessage(m) + thread;
  }).join("");
}

// A message link ("#p1700000000000100", from habot's links to its cards): that message is
// shown — its tab opened, scrolled to and marked — once it is on the page.
let linked = location.hash.slice(1);
let shown = "";

function showLinked() {
  const target = linked && document.getElementById(linked);
  if (!target || shown === linked) return;
  shown = linked;
  const where = target.closest("#dms") ? "dms" : "channel";
  if (tab !== where) showTab(where);
  target.scrollIntoView({ block: "center" });
}

window.addEventListener("hashchange", () => {
  linked = location.hash.slice(1);
  shown = "";
  render();
});

function render() {
  if (!state) return;
  const select = $("persona");
  if (!select.options.length) {
    for (const p of state.personas) {
      const o = document.createElement("option");
      o.value = p.user; o.textContent = `${p.name} — ${p.role}`;
      select.appendChild(o);
    }
    select.value = me;
  }
  $("usage").textContent = `${state.command} ${state.usage}`;
  const banner = $("banner");
  banner.hidden = state.bot === "up";
  banner.textContent = state.bot === "up" ? "" : `habot is ${state.bot} — this page keeps trying; a command typed now waits while habot starts.`;
  const inChannel = state.messages.filter((m) => m.channel === state.channel.id);
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.innerHTML = renderList(inChannel) || `<p class="hint">Nothing here yet: type <code>${esc(state.command)} status prod</code> below.</p>`;
  if (atBottom) box.scrollTop = box.scrollHeight;
  const dms = state.messages.filter((m) => m.channel !== state.channel.id);
  $("dm-messages").innerHTML = renderList(dms) || `<p class="hint">No direct messages from habot yet.</p>`;
  $("tab-dms").textContent = `Direct messages${dms.length ? ` (${dms.length})` : ""}`;
  const home = state.home;
  $("home-view").innerHTML = home
    ? home.blocks.map((b) => block(b, { ts: "home" })).join("")
    : `<p class="hint">Opening App Home…</p>`;
  renderPages(state.pages);
  renderModal(state.modal);
  showLinked();
  const faults = $("faults");
  if (!faults.children.length) {
    faults.innerHTML = state.faults.map((f) => `<button data-fault="${esc(f.id)}">${esc(f.label)}</button>`).join("");
  }
}

const PAGE_WORDS = { trigger: "🔔 Triggered", acknowledge: "👀 Acknowledged", resolve: "✅ Resolved" };

function renderPages(pages) {
  const list = $("pages");
  if (!pages) { list.innerHTML = `<li class="hint">Paging is off.</li>`; return; }
  list.innerHTML = pages.length
    ? pages.slice().reverse().map((p) => `<li class="page ${esc(p.action)}"><b>${esc(PAGE_WORDS[p.action] || p.action)}</b> `
      + `<span class="hint">${esc(new Date(p.at * 1000).toLocaleTimeString())}${p.severity ? ` · ${esc(p.severity)}` : ""}</span>`
      + (p.summary ? `<div>${esc(p.summary)}</div>` : "")
      + `<div class="hint">${esc(p.key)} — now ${esc(p.incident)}</div></li>`).join("")
    : `<li class="hint">Nothing paged yet: power-cut a Primary and wait for the alert.</li>`;
}

function input(b, errors) {
  const el = b.element || {};
  const error = errors[b.block_id] ? `<div class="error" role="alert">${esc(errors[b.block_id])}</div>` : "";
  const limits = `${el.min_length ? ` minlength="${Number(el.min_length)}"` : ""}${el.max_length ? ` maxlength="${Number(el.max_length)}"` : ""}`;
  const field = el.multiline
    ? `<textarea name="${esc(b.block_id)}" rows="3"${limits}></textarea>`
    : `<input name="${esc(b.block_id)}"${limits}>`;
  return `<label class="block input">${textOf(b.label)}${field}</label>`
    + `${b.hint ? `<div class="hint">${textOf(b.hint)}</div>` : ""}${error}`;
}

let openModal = null;

function renderModal(view) {
  const dialog = $("modal");
  if (!view) { openModal = null; if (dialog.open) dialog.close(); return; }
  const errors = view.errors || {};
  if (openModal === view.id) { // already open: only its errors change
    for (const [blockId, text] of Object.entries(errors)) {
      const field = dialog.querySelector(`[name="${CSS.escape(blockId)}"]`);
      if (field && !field.parentElement.nextElementSibling?.classList.contains("error")) {
        field.parentElement.insertAdjacentHTML("afterend", `<div class="error" role="alert">${esc(text)}</div>`);
      }
    }
    return;
  }
  openModal = view.id;
  $("modal-title").textContent = view.title ? view.title.text : "";
  $("modal-submit").textContent = view.submit ? view.submit.text : "Submit";
  $("modal-close").textContent = view.close ? view.close.text : "Close";
  $("modal-body").innerHTML = (view.blocks || []).map((b) => (b.type === "input"
    ? input(b, errors) : block(b, { ts: "modal" }))).join("");
  if (!dialog.open) dialog.showModal();
}

$("modal-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const old of $("modal-body").querySelectorAll(".error")) old.remove();
  const values = {};
  for (const field of $("modal-body").querySelectorAll("[name]")) values[field.name] = field.value;
  const result = await post("/ui/submit", { values });
  if (!result.ok) $("command-error").textContent = result.error;
});

$("modal-close").addEventListener("click", () => post("/ui/close", {}));
$("modal").addEventListener("cancel", () => post("/ui/close", {})); // Escape closes it too

async function poll() {
  const mine = ++polling;
  while (mine === polling) {
    try {
      const response = await fetch(`/ui/state?as=${encodeURIComponent(me)}&since=${version}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const fresh = await response.json();
      if (mine !== polling) return; // someone else now: a newer loop shows them
      state = fresh;
      version = state.version;
      render();
    } catch (err) {
      const banner = $("banner");
      banner.hidden = false;
      banner.textContent = `The demo's server is not answering (${err.message}); retrying…`;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ as: me, ...body }),
  });
  return response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
}

function showTab(name) {
  tab = name;
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.dataset.tab === name);
  for (const p of ["channel", "dms", "home"]) $(p).hidden = p !== name;
  if (name === "home") post("/ui/home", {});
}

function ask(confirm) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-title").textContent = confirm.title ? confirm.title.text : "Are you sure?";
    $("confirm-text").innerHTML = confirm.text ? textOf(confirm.text) : "";
    $("confirm-yes").textContent = confirm.confirm ? confirm.confirm.text : "Confirm";
    $("confirm-no").textContent = confirm.deny ? confirm.deny.text : "Cancel";
    $("confirm-yes").className = confirm.style === "danger" ? "danger" : "primary";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.showModal();
  });
}

document.addEventListener("click", async (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  if (target.dataset.tab) { showTab(target.dataset.tab); return; }
  if (target.dataset.fault) {
    const said = await post("/ui/fault", { fault: target.dataset.fault });
    $("fault-said").textContent = said.ok ? `Done: ${said.said}` : `Not done: ${said.error}`;
    return;
  }
  if (target.dataset.actionId) {
    if (target.dataset.confirm && !(await ask(JSON.parse(target.dataset.confirm)))) return;
    const result = await post("/ui/click", {
      ts: target.dataset.ts, block_id: target.dataset.blockId, action_id: target.dataset.actionId,
    });
    if (!result.ok) $("command-error").textContent = result.error;
  }
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("command");
  const text = input.value.trim();
  if (!text) return;
  $("command-error").textContent = "";
  const result = await post("/ui/command", { text });
  if (result.ok) input.value = "";
  else $("command-error").textContent = result.error;
});

$("persona").addEventListener("change", (event) => {
  me = event.target.value;
  localStorage.setItem("habot-demo-persona", me);
  version = -1;
  poll();
  if (tab === "home") post("/ui/home", {});
});

(async () => {
  const first = await (await fetch("/ui/state?as=")).json();
  if (!me || !first.personas.some((p) => p.user === me)) me = first.personas[0].user;
  state = first;
  poll();
})();
