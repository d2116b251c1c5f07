// mailtape inbox: sessions and messages, live. No framework, no build step.
// Everything from the server is put in the page with textContent, never as
// HTML; a message's HTML is shown only in a sandboxed iframe (no scripts).
"use strict";

const PAGE = 100;
const state = {
  view: "sessions",
  start: 0,
  outcome: "",
  q: "",
  selected: null,
  canSwitch: false,
  key: "",
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

// replaceChildren turns null into the text "null": leave the gaps out.
function fill(node, ...kids) {
  node.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
}

async function api(path, opts) {
  const res = await fetch(path, opts);
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error((body && body.error) || String(body) || res.statusText);
  return body;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

const OUTCOME = {
  accepted: ["accepted", "accepted"],
  refused_connect: ["refused at connect", "refused"],
  refused_auth: ["refused at AUTH", "refused"],
  refused_mail: ["refused at MAIL", "refused"],
  refused_rcpt: ["refused at RCPT", "refused"],
  refused_data: ["refused after DATA", "refused"],
  client_left: ["client left", "left"],
  fault: ["fault", "fault"],
};

function badge(s) {
  const [label, cls] = OUTCOME[s.outcome] || [s.outcome, "left"];
  const code = s.code ? " " + s.code : "";
  return el("span", { class: "badge " + cls, "data-outcome": s.outcome, text: label + code });
}

// ---------------------------------------------------------------- lists

async function loadList() {
  const p = new URLSearchParams({ start: state.start, limit: PAGE });
  if (state.q) p.set("q", state.q);
  if (state.key) p.set("key", state.key);
  let rows, total, matched;
  try {
    if (state.view === "sessions") {
      if (state.outcome) p.set("outcome", state.outcome);
      const r = await api("/api/sessions?" + p);
      rows = r.sessions.map(sessionRow);
      total = r.total;
      matched = r.matched;
    } else if (state.view === "webhooks") {
      const r = await loadWebhooks();
      rows = r.rows;
      total = matched = r.rows.length - 1;
    } else {
      const r = await api("/api/messages?" + p);
      rows = r.messages.map(messageRow);
      total = r.total;
      matched = r.matched;
    }
  } catch (e) {
    $("list").replaceChildren(el("p", { class: "dim empty", text: "Could not load: " + e.message }));
    return;
  }
  $("list").replaceChildren(...(rows.length ? rows : [el("p", { class: "dim empty", text: "Nothing yet." })]));
  const end = Math.min(state.start + PAGE, matched);
  $("range").textContent = matched
    ? `${state.start + 1}–${end} of ${matched}` + (matched !== total ? ` (of ${total})` : "")
    : "";
  $("prev").disabled = state.start === 0;
  $("next").disabled = end >= matched;
}

function sessionRow(s) {
  const who = s.to.length ? (s.from || "?") + " → " + s.to.join(", ") : s.user ? "user " + s.user : s.client;
  const proto = s.protocol === "http" ? "HTTP" : s.listener + (s.tls ? " · " + s.tls.split(" ")[0] : "");
  const row = el(
    "div",
    {
      class: "row" + (state.selected === "s" + s.key ? " sel" : ""),
      role: "listitem",
      "data-testid": "session-row",
      "data-key": s.key,
      onclick: () => openSession(s.key),
    },
    el("span", { class: "who", text: who }),
    badge(s),
    el("span", {
      class: "meta",
      text: [when(s.started), "#" + s.session, s.client, proto, s.user ? "user " + s.user : "", s.subjects[0] || "", s.duration.toFixed(3) + "s"]
        .filter(Boolean)
        .join(" · "),
    }),
  );
  return row;
}

function messageRow(m) {
  return el(
    "div",
    {
      class: "row" + (state.selected === "m" + m.id ? " sel" : ""),
      role: "listitem",
      "data-testid": "message-row",
      "data-id": m.id,
      onclick: () => openMessage(m.id),
    },
    el("span", { class: "who", text: (m.subject || "(no subject)") }),
    m.codes && m.codes.length ? el("span", { class: "code", "data-testid": "row-code", text: m.codes[0] }) : null,
    ...(m.tags || []).map((t) => el("span", { class: "tag", text: t })),
    el("span", { class: "dim small", text: when(m.created) }),
    el("span", { class: "meta", text: m.from + " → " + m.to.join(", ") + (m.attachments ? " · 📎 " + m.attachments : "") + " · " + m.snippet }),
  );
}

// ---------------------------------------------------------------- webhooks

// The Webhooks view: the endpoints, then every event (newest first), or
// those of one email or session when reached from a message or a session.
async function loadWebhooks() {
  const overview = await api("/api/webhooks");
  const p = new URLSearchParams();
  if (state.hookFilter && state.hookFilter.email) p.set("email_id", state.hookFilter.email);
  if (state.hookFilter && state.hookFilter.session) p.set("session", state.hookFilter.session);
  let events = await api("/api/webhooks/events?" + p);
  if (state.q) events = events.filter((e) => (e.type + " " + e.email_id + " " + (e.domain_id || "")).toLowerCase().includes(state.q.toLowerCase()));
  events.reverse();
  const head = el("div", { class: "hooks-head", "data-testid": "webhook-endpoints" },
    overview.endpoints.length
      ? overview.endpoints.map((e) => el("div", { class: "small", "data-testid": "webhook-endpoint" }, el("span", { class: "badge " + (e.status === "enabled" ? "accepted" : "left"), text: e.status }), " ", e.endpoint,
          e.disabled_reason ? el("span", { class: "dim", "data-testid": "disabled-reason", text: " — disabled by mailtape: " + e.disabled_reason }) : null))
      : el("p", { class: "dim small", text: "No endpoint: start the mock with --webhook URL, or POST /webhooks." }),
    state.hookFilter
      ? el("p", { class: "small" }, "Events of " + (state.hookFilter.email ? "email " + state.hookFilter.email : "session #" + state.hookFilter.session) + " · ",
          el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); state.hookFilter = null; loadList(); }, text: "show all" }))
      : null,
    overview.pending ? el("p", { class: "dim small", text: overview.pending + " deliveries waiting or retrying" }) : null,
  );
  return { rows: [head, ...events.map(webhookRow)] };
}

function deliveryBadge(e) {
  const states = e.deliveries.map(([, s]) => s);
  const s = states.includes("failed") || states.includes("aborted") || states.includes("dropped")
    ? "failed" : states.includes("pending") ? "pending" : states.length ? "delivered" : "no endpoint";
  const cls = { delivered: "accepted", failed: "refused", pending: "left" }[s] || "left";
  const last = e.attempts.length ? e.attempts[e.attempts.length - 1] : null;
  return el("span", { class: "badge " + cls, "data-testid": "delivery", text: s + (last && last.status ? " " + last.status : "") });
}

function webhookRow(e) {
  return el(
    "div",
    {
      class: "row" + (state.selected === "w" + e.id ? " sel" : ""),
      role: "listitem",
      "data-testid": "webhook-row",
      "data-id": e.id,
      onclick: () => openWebhookEvent(e.id),
    },
    el("span", { class: "who", text: e.type }),
    deliveryBadge(e),
    el("span", { class: "meta", text: [when(e.created_at), e.domain_id && !e.email_id ? "domain " + e.domain_id : "email " + e.email_id, e.session ? "#" + e.session : null, e.attempts.length + " attempts", e.next_attempt_at ? "next attempt " + when(e.next_attempt_at) : null].filter(Boolean).join(" · ") }),
  );
}

function showWebhooks(filter) {
  state.hookFilter = filter;
  switchView("webhooks");
}

async function openWebhookEvent(id) {
  state.selected = "w" + id;
  markSelected();
  document.body.classList.add("detail-open");
  let e;
  try {
    e = await api("/api/webhooks/events/" + encodeURIComponent(id));
  } catch (err) {
    $("detail").replaceChildren(el("p", { class: "dim", text: err.message }));
    return;
  }
  const replay = el("button", {
    type: "button",
    "data-testid": "webhook-replay",
    text: "Replay",
    onclick: async () => {
      replay.disabled = true;
      await api("/api/webhooks/events/" + encodeURIComponent(e.id) + "/replay", { method: "POST" });
      setTimeout(() => openWebhookEvent(e.id), 300);
    },
  });
  const attempts = e.attempts.map((a) =>
    el("div", { class: "attempt", "data-testid": "attempt" },
      el("h3", {}, `Attempt ${a.attempt} → ${a.endpoint} `, el("span", { class: "badge " + (a.ok ? "accepted" : "refused"), text: a.status ? String(a.status) : "no response" })),
      facts([
        ["at", a.at],
        ["latency", a.latency_ms + " ms"],
        ["error", a.error],
        ["outcome", a.outcome],
        ["next attempt", a.next_attempt_at],
      ]),
      el("strong", { class: "small", text: "Request headers" }),
      el("table", { class: "headers" }, a.request_headers.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v })))),
      el("strong", { class: "small", text: "Response" }),
      el("table", { class: "headers" }, a.response_headers.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v })))),
      a.response_body ? el("pre", { class: "text", "data-testid": "response-body", text: a.response_body }) : null,
    ));
  fill($("detail"),
    el("h2", {}, e.type + " ", deliveryBadge(e)),
    facts([
      ["svix-id", e.id],
      ["created", e.created_at],
      ["email", e.email_id ? el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); showWebhooks({ email: e.email_id }); }, text: e.email_id }) : null],
      ["domain", e.domain_id],
      ["session", e.session ? el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); switchView("sessions"); openSession(e.session); }, text: "#" + e.session }) : null],
      ["deliveries", e.deliveries.map(([id, s]) => s + " (" + id.slice(0, 8) + ")").join(", ")],
      ["next attempt", e.next_attempt_at],
    ]),
    el("div", { class: "actions" }, replay),
    el("strong", { text: "Payload (request body)" }),
    el("pre", { class: "text", "data-testid": "webhook-payload", text: JSON.stringify(e.payload, null, 2) }),
    attempts,
  );
}

// Opens and clicks, as Resend reports them with tracking on.
async function engage(emailId, what, link) {
  await api(`/api/webhooks/emails/${encodeURIComponent(emailId)}/${what}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(link ? { link, user_agent: navigator.userAgent } : {}),
  });
}

// ---------------------------------------------------------------- details

function facts(pairs) {
  return el(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]),
  );
}

function lineClass(e) {
  switch (e.kind) {
    case "client": return "c";
    case "server": return "s" + (e.text || "")[0];
    case "data": return "d";
    default: return "n";
  }
}
const TAG = { client: "C", server: "S", data: "D", note: "*", comment: "#" };

async function openSession(key) {
  state.selected = "s" + key;
  deepLink(null);
  markSelected();
  document.body.classList.add("detail-open");
  let d;
  try {
    d = await api("/api/sessions/" + key);
  } catch (e) {
    $("detail").replaceChildren(el("p", { class: "dim", text: e.message }));
    return;
  }
  const s = d.summary;
  deepLink(s.origin === "live" ? "session/" + s.session : "session-key/" + s.key);
  const lines = [];
  for (const e of d.events) {
    const at = e.at === null || e.at === undefined ? "" : e.at.toFixed(3);
    const diverged = e.kind === "note" && /diverged/i.test(e.text);
    lines.push(
      el("div", { class: "line " + lineClass(e) + (diverged ? " diverged" : ""), "data-testid": "line" },
        el("span", { class: "at", text: at }), `${TAG[e.kind] || "?"}: ${e.text}`),
    );
    if (e.explain) {
      lines.push(el("div", { class: "explain " + (e.explain.ok ? "ok" : "bad"), "data-testid": "explain", text: (e.explain.ok ? "✓ " : "↳ ") + e.explain.text }));
    }
  }
  const msgs = s.messages.length
    ? el("span", {}, ...s.messages.map((id, i) => [i ? ", " : "", el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); switchView("messages"); openMessage(id); }, text: id })]))
    : null;
  fill($("detail"),
    el("h2", {}, `Session #${s.session} `, badge(s)),
    s.diverged ? el("p", { class: "diverged", "data-testid": "diverged", text: "The client departed from the tape: see the lines marked below." }) : null,
    facts([
      ["started", s.started],
      ["protocol", s.protocol],
      ["mode", s.mode + (s.source ? " · " + s.source : "")],
      ["client", s.client],
      ["listener", s.listener + " " + (d.meta.local || "")],
      ["TLS", s.tls || (s.protocol === "smtp" ? "none" : "")],
      ["user", s.user],
      ["key", s.api_key],
      ["from", s.from],
      ["to", s.to.join(", ")],
      ["subject", s.subjects.join(" · ")],
      ["reply", s.code ? s.code + " " + (s.reply || "") : ""],
      ["duration", s.duration.toFixed(3) + " s"],
      ["closed by", s.closed_by],
      ["messages", msgs],
      ["from file", s.origin !== "live" ? s.origin : ""],
    ]),
    el("div", { class: "actions" },
      el("a", { href: `/api/sessions/${s.key}/tape`, download: `session-${s.key}.tape`, "data-testid": "tape-download", text: "Download tape" }),
      state.webhooks && s.messages.length ? [" · ", el("a", { href: "#", "data-testid": "session-webhooks", onclick: (ev) => { ev.preventDefault(); showWebhooks({ session: s.session }); }, text: "Webhook events" })] : null),
    el("div", { class: "transcript", "data-testid": "transcript" }, lines),
  );
}

async function openMessage(id) {
  state.selected = "m" + id;
  markSelected();
  document.body.classList.add("detail-open");
  let m;
  try {
    m = await api("/api/messages/" + encodeURIComponent(id));
  } catch (e) {
    $("detail").replaceChildren(el("p", { class: "dim", text: e.message }));
    return;
  }
  const enc = encodeURIComponent(m.id);
  deepLink("message/" + m.id);
  const body = el("div", { "data-testid": "message-body" });
  const remote = el("input", { type: "checkbox", id: "remote", "data-testid": "remote-images" });
  const remoteBox = el("label", { class: "small dim" }, remote, " load remote images");
  const show = (what) => {
    for (const b of tabs.querySelectorAll(".tab")) b.classList.toggle("on", b.dataset.part === what);
    remoteBox.hidden = what !== "html";
    if (what === "html") {
      const frame = el("iframe", {
        class: "html",
        // No allow-scripts, no allow-same-origin: the message cannot run
        // code or reach the page; the server's CSP says the same.
        sandbox: "allow-popups allow-popups-to-escape-sandbox",
        referrerpolicy: "no-referrer",
        title: "message HTML",
        "data-testid": "html-frame",
        src: `/api/messages/${enc}/html` + (remote.checked ? "?remote=1" : ""),
      });
      body.replaceChildren(frame);
    } else if (what === "text") {
      body.replaceChildren(el("pre", { class: "text", "data-testid": "text-body", text: m.text || "(no text part)" }));
    } else {
      body.replaceChildren(el("table", { class: "headers" }, m.headers.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v })))));
    }
  };
  remote.addEventListener("change", () => show("html"));
  const tabs = el("div", { class: "subtabs" },
    m.has_html ? el("button", { class: "tab", "data-part": "html", onclick: () => show("html"), text: "HTML" }) : null,
    el("button", { class: "tab", "data-part": "text", onclick: () => show("text"), text: "Text" }),
    el("button", { class: "tab", "data-part": "headers", onclick: () => show("headers"), text: "Headers" }),
    remoteBox,
  );
  const addr = (list) => (list || []).map((a) => (a.Name ? `${a.Name} <${a.Address}>` : a.Address)).join(", ");
  fill($("detail"),
    el("h2", { text: m.subject || "(no subject)" }),
    facts([
      ["from", m.header_from ? addr([m.header_from]) : m.from],
      ["to", addr(m.header_to) || m.to.join(", ")],
      ["cc", addr(m.cc)],
      ["envelope", m.from + " → " + m.to.join(", ")],
      ["date", m.date || m.created],
      ["size", m.size + " bytes"],
      ["tags", (m.tags || []).join(", ")],
      ["key", m.key],
      ["user", m.user],
      ["session", m.session ? el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); switchView("sessions"); openSession(m.session); }, text: "#" + m.session_number }) : ""],
    ]),
    el("div", { class: "actions" },
      el("a", { href: `/api/messages/${enc}/raw`, download: `${m.id}.eml`, "data-testid": "raw-download", text: "Download .eml" })),
    m.codes.length ? el("div", {}, el("strong", { text: "Codes" }), el("ul", { class: "plain", "data-testid": "codes" }, m.codes.map((c) => el("li", {}, el("span", { class: "code", text: c.code }), ` · ${c.found_in} · `, el("span", { class: "dim", text: c.context }))))) : null,
    m.links.length ? el("div", {}, el("strong", { text: "Links" }), el("ul", { class: "plain", "data-testid": "links" }, m.links.map((l) => el("li", {}, el("a", { href: l, target: "_blank", rel: "noopener noreferrer", text: l, onclick: () => { if (state.webhooks) engage(m.id, "click", l).catch(() => {}); } }))))) : null,
    state.webhooks ? el("div", { class: "actions" },
      el("a", { href: "#", "data-testid": "message-webhooks", onclick: (ev) => { ev.preventDefault(); showWebhooks({ email: m.id }); }, text: "Webhook events" }),
      " · ",
      el("button", { type: "button", "data-testid": "send-opened", onclick: () => engage(m.id, "open").then(() => showWebhooks({ email: m.id })).catch((err) => alert(err.message)), text: "Send email.opened" })) : null,
    m.attachments.length ? el("div", {}, el("strong", { text: "Attachments" }), el("ul", { class: "plain", "data-testid": "attachments" }, m.attachments.map((a) => el("li", {}, el("a", { href: `/api/messages/${enc}/parts/${encodeURIComponent(a.part)}`, download: "", text: a.file_name || "part " + a.part }), ` · ${a.content_type} · ${a.size} bytes`)))) : null,
    tabs,
    body,
  );
  show(m.has_html ? "html" : "text");
}

function markSelected() {
  for (const r of document.querySelectorAll(".row")) {
    const id = r.dataset.key ? "s" + r.dataset.key : (r.dataset.testid === "webhook-row" ? "w" : "m") + r.dataset.id;
    r.classList.toggle("sel", id === state.selected);
  }
}

// ---------------------------------------------------------------- header

async function loadInfo() {
  try {
    const i = await api("/api/info");
    $("mode").textContent = i.mode || "";
    const c = i.counts;
    const dropped = c.dropped_sessions + c.dropped_messages;
    $("counts").textContent = `${c.sessions} sessions · ${c.messages} messages` + (dropped ? ` · ${dropped} dropped (keeping ${c.keep})` : "") + (c.dropped_queue ? ` · ${c.dropped_queue} missed` : "");
    state.canSwitch = i.can_switch_scenario;
    if (state.webhooks === undefined) {
      // The Webhooks tab exists where the server sends webhooks (the mock).
      state.webhooks = await fetch("/api/webhooks").then((r) => r.ok).catch(() => false);
      $("tab-webhooks").hidden = !state.webhooks;
    }
    if (i.can_switch_scenario) await loadScenario();
  } catch (e) {
    $("counts").textContent = "offline";
  }
  loadKeys();
}

// ---------------------------------------------------------------- which app

// The keys seen (their fingerprints): pick one to see only that app's mail.
async function loadKeys() {
  let keys;
  try {
    keys = (await api("/api/keys")).keys;
  } catch (e) {
    return;
  }
  const sel = $("key-filter");
  const want = ["", ...keys.map((k) => k.key)];
  const have = [...sel.options].map((o) => o.value);
  if (want.join("\n") !== have.join("\n")) {
    sel.replaceChildren(el("option", { value: "", text: "every key" }),
      ...keys.map((k) => el("option", { value: k.key, text: `${k.key} · ${k.messages} messages` })));
    sel.value = state.key;
  }
  sel.hidden = keys.length === 0;
}

// ---------------------------------------------------------------- deep links

// `#/message/ID`, `#/session/N` (a live session by its number in the run),
// `#/session-key/KEY`: what wait answers, the live view and JSON events print.
function deepLink(path) {
  const hash = path ? "#/" + path : "";
  if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname);
}

async function followHash() {
  const m = /^#\/(message|session|session-key)\/(.+)$/.exec(location.hash);
  if (!m) return;
  const id = decodeURIComponent(m[2]);
  if (m[1] === "message") {
    switchView("messages");
    openMessage(id);
  } else if (m[1] === "session-key") {
    switchView("sessions");
    openSession(id);
  } else {
    switchView("sessions");
    try {
      const s = await api("/api/run-sessions/" + encodeURIComponent(id));
      openSession(s.key);
    } catch (e) {
      $("detail").replaceChildren(el("p", { class: "dim", text: e.message }));
    }
  }
}

async function loadScenario() {
  const s = await api("/api/scenario");
  showScenario(s);
}

function showScenario(s) {
  const sel = $("scenario");
  if (sel.options.length !== s.scenarios.length) {
    sel.replaceChildren(...s.scenarios.map(([name, about]) => el("option", { value: name, title: about, text: name })));
  }
  sel.value = s.scenario;
  $("scenario-box").hidden = false;
  const acct = [];
  if (s.owner) acct.push("sandbox owner " + s.owner);
  if (s.verified_domains) acct.push("verified " + (s.verified_domains.join(", ") || "none"));
  if (s.keys) acct.push(s.keys + " keys");
  $("account").textContent = acct.join(" · ");
  loadAccount();
}

// The account as the API left it: keys by fingerprint (never the key),
// domains with their verification status.
async function loadAccount() {
  let a;
  try {
    a = await api("/api/account");
  } catch (e) {
    return;
  }
  const row = (cells) => el("tr", {}, ...cells.map((c) => el("td", { text: c == null ? "" : String(c) })));
  const head = (cells) => el("tr", {}, ...cells.map((c) => el("th", { text: c })));
  const keys = a.keys.map((k) => row([k.fingerprint, k.name, k.permission, k.domain || "any domain",
    k.last_used_at || "never used", k.origin === "api" ? "made through the API" : "given at start"]));
  if (!a.keys.length) keys.push(row([a.unlisted_keys === "accepted" ? "any well-formed key is accepted" : "no key"]));
  $("account-keys").replaceChildren(head(["key", "name", "permission", "sends from", "last used", ""]), ...keys);
  const domains = a.domains.map((d) => row([d.name, d.status, d.region, d.created_at]));
  if (!a.domains.length) domains.push(row([a.every_domain_verified ? "every domain counts as verified" : "none"]));
  $("account-domains").replaceChildren(head(["domain", "status", "region", "created"]), ...domains);
  $("account-panel").hidden = false;
}

// ---------------------------------------------------------------- live

let reloadTimer = null;
function reloadSoon() {
  // Bursts of sessions refresh the list at most every 300 ms.
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    // A REST call may have made or deleted a key or a domain.
    if (state.canSwitch && $("account-panel").open) loadAccount();
    loadList();
    loadInfo();
  }, 300);
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => $("live").className = "live on");
  es.addEventListener("error", () => $("live").className = "live off");
  for (const kind of ["session", "message", "clear", "deleted", "resync", "tags"]) {
    es.addEventListener(kind, reloadSoon);
  }
  es.addEventListener("scenario", (ev) => showScenario(JSON.parse(ev.data).data));
}

// ---------------------------------------------------------------- wiring

function switchView(view) {
  document.body.classList.remove("detail-open");
  state.view = view;
  state.start = 0;
  for (const t of document.querySelectorAll(".tabs .tab")) t.classList.toggle("on", t.dataset.view === view);
  $("outcome").hidden = view !== "sessions";
  if (view !== "webhooks") state.hookFilter = null;
  loadList();
}

function init() {
  for (const t of document.querySelectorAll(".tabs .tab")) t.addEventListener("click", () => switchView(t.dataset.view));
  $("outcome").addEventListener("change", (e) => { state.outcome = e.target.value; state.start = 0; loadList(); });
  let typing = null;
  $("search").addEventListener("input", (e) => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.q = e.target.value.trim(); state.start = 0; loadList(); }, 200);
  });
  $("prev").addEventListener("click", () => { state.start = Math.max(0, state.start - PAGE); loadList(); });
  $("next").addEventListener("click", () => { state.start += PAGE; loadList(); });
  $("back").addEventListener("click", () => { document.body.classList.remove("detail-open"); deepLink(null); });
  $("key-filter").addEventListener("change", (e) => { state.key = e.target.value; state.start = 0; loadList(); });
  window.addEventListener("hashchange", followHash);
  $("clear").addEventListener("click", async () => {
    if (!confirm("Delete every session and message kept by the inbox?")) return;
    await api("/api/clear", { method: "POST" });
    $("detail").replaceChildren(el("p", { class: "dim empty", text: "Cleared." }));
    reloadSoon();
  });
  $("scenario").addEventListener("change", async (e) => {
    try {
      showScenario(await api("/api/scenario", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ scenario: e.target.value }),
      }));
    } catch (err) {
      alert("Could not switch: " + err.message);
      loadScenario();
    }
  });
  loadInfo();
  loadList();
  connect();
  followHash();
  // Deliveries and retries are not inbox events: the open Webhooks view
  // looks again every second.
  setInterval(() => { if (state.view === "webhooks") loadList(); }, 1000);
}

document.addEventListener("DOMContentLoaded", init);
