// Story Portal console: the pages, each a function that fills the page element (helpers
// and the API client are in app.js, loaded before this file).
"use strict";

const pages = {};

pages.overview = function (page) {
  page.append(el("h1", { text: "Overview" }));
  const checks = el("div"), models = el("div"), hub = el("div");
  page.append(el("h2", { text: "Components" }), checks, el("h2", { text: "Models" }), models, el("h2", { text: "Service hub" }), hub);
  every(5000, async () => {
    try {
      const health = await api("GET", "/health");
      document.getElementById("version").textContent = health.version || "";
      const ready = await fetch("/health/ready").then((r) => (r.ok ? "ready" : "not ready"), () => "not ready");
      const uptime = health.uptime_secs ?? 0;
      checks.replaceChildren(el("p", {}, "Overall: ", badge(health.status), ` · ${ready} · version ${health.version} · up ${Math.floor(uptime / 3600)} h ${Math.floor((uptime % 3600) / 60)} min`),
        table("Health checks", ["Component", "Status", "Latency (ms)", "Error"],
          Object.entries(health.checks || {}).map(([name, check]) =>
            [name, badge(check.status), el("td", { class: "num", text: check.latency_ms }), check.error || ""])));
      const h = health.hub || {};
      hub.replaceChildren(table("Registered services by health", ["Services", "Healthy", "Degraded", "Unhealthy", "Unknown"],
        [[h.services ?? 0, h.healthy ?? 0, h.degraded ?? 0, h.unhealthy ?? 0, h.unknown ?? 0]]));
    } catch (err) { checks.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
    if (!hasScope("inference")) {
      models.replaceChildren(el("p", { text: "Listing models needs the inference scope." }));
      return;
    }
    try {
      const list = await api("GET", "/v1/models");
      models.replaceChildren(table("Models", ["Model", "Kind", "State", "Memory (MiB)", "In use"],
        (list.data || []).map((m) => [m.id, m.kind || "", badge(m.state || ""),
          el("td", { class: "num", text: Math.round(((m.memory && m.memory.total) || 0) / 1048576) }), m.in_use ?? 0])));
    } catch (err) { models.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
  });
};

function lineChart(title, points, unit) {
  const width = 600, height = 160, pad = 30;
  const max = Math.max(1, ...points.map((p) => p.y));
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(1, points.length - 1);
  const y = (v) => height - pad - (v * (height - 2 * pad)) / max;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const last = points.length ? points[points.length - 1].y : 0;
  svg.setAttribute("aria-label", `${title}: ${points.length} minutes, latest ${last} ${unit}, highest ${max} ${unit}`);
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  add("line", { class: "axis", x1: pad, y1: height - pad, x2: width - pad, y2: height - pad });
  add("line", { class: "axis", x1: pad, y1: pad, x2: pad, y2: height - pad });
  add("text", { x: 2, y: pad, "aria-hidden": "true" }, String(Math.round(max * 10) / 10));
  add("text", { x: 2, y: height - pad, "aria-hidden": "true" }, "0");
  if (points.length) {
    add("polyline", { class: "line", points: points.map((p, i) => `${x(i)},${y(p.y)}`).join(" ") });
  }
  return el("figure", {}, el("figcaption", { text: title }), svg);
}

// Sums every series of `name` in a Prometheus text exposition.
function metricSum(text, name) {
  let sum = 0, found = false;
  for (const line of text.split("\n")) {
    if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
      const value = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (!Number.isNaN(value)) { sum += value; found = true; }
    }
  }
  return found ? sum : null;
}

pages.metrics = function (page) {
  page.append(el("h1", { text: "Metrics" }), el("p", { text: "This server's requests over the last hour, per minute (each replica shows its own)." }));
  const now = el("div"), body = el("div");
  page.append(el("h2", { text: "Now" }), now, el("h2", { text: "Last hour" }), body);
  if (!hasScope("admin")) { body.append(el("p", { text: "Metrics need the admin scope." })); return; }
  let previous = null;
  every(5000, async () => {
    try {
      const response = await api("GET", "/metrics", undefined, { raw: true });
      const text = await response.text();
      const tokens = metricSum(text, "sp_tokens_generated_total");
      const at = Date.now();
      const rate = previous && tokens !== null ? ((tokens - previous.tokens) * 1000) / (at - previous.at) : null;
      previous = { tokens: tokens || 0, at };
      const hits = metricSum(text, "sp_cache_hits_total"), misses = metricSum(text, "sp_cache_misses_total");
      const ratio = hits !== null && misses !== null && hits + misses > 0 ? `${Math.round((hits * 1000) / (hits + misses)) / 10} %` : "no lookups yet";
      const queue = metricSum(text, "sp_inference_waiting"), active = metricSum(text, "sp_inference_active");
      now.replaceChildren(table("Right now", ["Queue (waiting)", "Generating", "Tokens/s", "Cache hit ratio", "Open connections"],
        [[queue ?? "no model", active ?? "no model", rate === null ? "measuring…" : String(Math.round(rate * 10) / 10), ratio,
          metricSum(text, "sp_connections_open") ?? ""]]));
    } catch (err) { now.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
  });
  every(10000, async () => {
    try {
      const { minutes } = await api("GET", "/v1/requests/summary");
      const total = (m, key) => m.routes.reduce((sum, r) => sum + r[key], 0);
      const worst = (m, key) => m.routes.reduce((w, r) => Math.max(w, r[key]), 0);
      const byRoute = new Map(), byCode = new Map();
      for (const m of minutes) {
        for (const r of m.routes) {
          const seen = byRoute.get(r.route) || { requests: 0, failed: 0, p95: 0 };
          seen.requests += r.requests; seen.failed += r.failed; seen.p95 = Math.max(seen.p95, r.p95_ms);
          byRoute.set(r.route, seen);
        }
        for (const [code, n] of Object.entries(m.errors)) byCode.set(code, (byCode.get(code) || 0) + n);
      }
      body.replaceChildren(
        el("div", { class: "cards" },
          lineChart("Requests per minute", minutes.map((m) => ({ y: total(m, "requests") })), "requests"),
          lineChart("Slowest route's p95 latency (ms)", minutes.map((m) => ({ y: Math.round(worst(m, "p95_ms")) })), "ms"),
          lineChart("Failed requests per minute", minutes.map((m) => ({ y: total(m, "failed") })), "failures"),
          lineChart("Tokens per second (minute average)", minutes.map((m) => ({ y: Math.round((m.tokens_generated / 60) * 10) / 10 })), "tokens/s"),
          lineChart("Inference queue, peak waiting", minutes.map((m) => ({ y: m.queue_peak })), "requests"),
          lineChart("Cache hit ratio (%)", minutes.map((m) => ({ y: m.cache_hits + m.cache_misses ? Math.round((m.cache_hits * 100) / (m.cache_hits + m.cache_misses)) : 0 })), "%")),
        table("By route, last hour", ["Route", "Requests", "Failed", "Highest p95 (ms)"],
          [...byRoute.entries()].map(([route, s]) => [route, el("td", { class: "num", text: s.requests }),
            el("td", { class: "num", text: s.failed }), el("td", { class: "num", text: Math.round(s.p95 * 10) / 10 })])),
        table("Errors by code, last hour", ["Code", "Count"],
          [...byCode.entries()].map(([code, n]) => [code, el("td", { class: "num", text: n })])));
    } catch (err) { body.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
  });
};

pages.requests = function (page, params) {
  page.append(el("h1", { text: "Requests" }));
  if (!hasScope("admin")) { page.append(el("p", { text: "The request and audit logs need the admin scope." })); return; }
  const inputs = {
    route: el("input", { name: "route", placeholder: "/v1/documents" }),
    status: el("input", { name: "status", inputmode: "numeric", placeholder: "404 or 5" }),
    key_id: el("input", { name: "key_id" }),
    request_id: el("input", { name: "request_id", value: params.get("request_id") || "" }),
    since: el("input", { name: "since", type: "datetime-local" }),
    until: el("input", { name: "until", type: "datetime-local" }),
  };
  const results = el("div"), audit = el("div");
  const load = async () => {
    const query = new URLSearchParams();
    for (const [name, input] of Object.entries(inputs)) {
      if (!input.value) continue;
      query.set(name, input.type === "datetime-local" ? new Date(input.value).toISOString() : input.value);
    }
    try {
      const list = await api("GET", "/v1/requests?" + query);
      results.replaceChildren(table("Recent requests, newest first", ["Time", "Method", "Path", "Status", "Code", "Key", "ms", "Request id"],
        list.items.map((r) => [r.at, r.method, r.path, badge(String(r.status)), r.code || "", r.key_id || "",
          el("td", { class: "num", text: Math.round(r.duration_ms * 10) / 10 }),
          el("a", { href: "#/events?correlation_id=" + encodeURIComponent(r.request_id), text: r.request_id })])));
      announce(`${list.items.length} requests`);
    } catch (err) { results.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
    try {
      const entries = await api("GET", "/v1/audit?limit=50");
      audit.replaceChildren(table("Audit log (mutating requests), newest first", ["Time", "Key", "Method", "Path", "Status", "Request id"],
        entries.items.map((a) => [a.at, a.key_id, a.method, a.path, badge(String(a.status)),
          el("a", { href: "#/events?correlation_id=" + encodeURIComponent(a.request_id), text: a.request_id })])));
    } catch (err) { audit.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
  };
  page.append(el("form", { onsubmit: (e) => { e.preventDefault(); load(); } },
    field("Route", inputs.route), field("Status", inputs.status), field("Key id", inputs.key_id),
    field("Request id", inputs.request_id), field("Since", inputs.since), field("Until", inputs.until),
    el("button", { type: "submit", text: "Filter" })), results, el("h2", { text: "Audit log" }), audit);
  load();
};

function eventRow(event) {
  return [event.appended_at || event.time || "", event.stream || "", event.type || "", event.subject || "",
    el("pre", { text: JSON.stringify(event.data === undefined ? event : event.data) })];
}

pages.events = function (page, params) {
  page.append(el("h1", { text: "Events" }));
  if (!hasScope("events")) { page.append(el("p", { text: "The event log needs the events scope." })); return; }
  const correlation = params.get("correlation_id");
  if (correlation) {
    const found = el("div");
    page.append(el("h2", { text: "Events of request " + correlation }), found);
    api("GET", "/v1/events?correlationid=" + encodeURIComponent(correlation) + "&limit=100")
      .then((list) => found.replaceChildren(table("Events of this request", ["Time", "Stream", "Type", "Subject", "Data"], list.items.map(eventRow))))
      .catch((err) => found.replaceChildren(el("p", { class: "error", text: errorText(err) })));
  }
  const stream = el("input", { name: "stream" }), type = el("input", { name: "type" });
  const rows = [];
  const shown = el("div");
  const render = () => shown.replaceChildren(table("Live events, newest first", ["Time", "Stream", "Type", "Subject", "Data"], rows.slice(0, 200)));
  const start = async () => {
    stopPage();
    const controller = new AbortController();
    state.controllers.push(controller);
    const query = new URLSearchParams({ since: new Date().toISOString() });
    if (stream.value) query.set("stream", stream.value);
    if (type.value) query.set("type", type.value);
    rows.length = 0;
    render();
    announce("Following events");
    try {
      const response = await api("GET", "/v1/events/live?" + query, undefined, { raw: true, signal: controller.signal });
      await readSse(response, (message) => {
        if (message.event !== "message" && message.event !== "event") return;
        try { rows.unshift(eventRow(JSON.parse(message.data))); render(); } catch (_) { /* not an event */ }
      });
    } catch (err) {
      if (err.name !== "AbortError") shown.prepend(el("p", { class: "error", text: errorText(err) }));
    }
  };
  page.append(el("h2", { text: "Live tail" }),
    el("form", { onsubmit: (e) => { e.preventDefault(); start(); } },
      field("Stream", stream), field("Type", type), el("button", { type: "submit", text: "Follow" })), shown);
  start();
};

function pendingApprovals(events) {
  const waiting = new Map();
  for (const e of events) {
    const kind = e.type || e.kind;
    const data = e.data || e;
    if (kind === "approval_requested") waiting.set(data.call_id, data);
    if (kind === "approval_decided") waiting.delete(data.call_id);
  }
  return [...waiting.values()];
}

async function showAgentRun(id, into) {
  const run = await api("GET", "/v1/agent-runs/" + encodeURIComponent(id));
  const events = await api("GET", "/v1/agent-runs/" + encodeURIComponent(id) + "/events");
  const list = Array.isArray(events) ? events : events.items || [];
  const decide = async (action, callId) => {
    const body = { call_id: callId };
    if (action === "reject") body.reason = "rejected from the console";
    try { await api("POST", `/v1/agent-runs/${encodeURIComponent(id)}/${action}`, body); announce(`${action} sent`); await showAgentRun(id, into); }
    catch (err) { into.prepend(el("p", { class: "error", text: errorText(err) })); }
  };
  const approvals = pendingApprovals(list).map((a) => el("li", {},
    el("span", { text: `Call ${a.call_id}: ${a.tool || ""} ` }), el("pre", { text: JSON.stringify(a.arguments || {}) }),
    el("button", { type: "button", onclick: () => decide("approve", a.call_id), text: "Approve " + a.call_id }), " ",
    el("button", { type: "button", class: "danger", onclick: () => decide("reject", a.call_id), text: "Reject " + a.call_id })));
  into.replaceChildren(
    el("h3", { text: `Agent run ${run.id}` }), el("p", {}, "Status: ", badge(run.status)),
    el("h4", { text: "Input" }), el("pre", { text: JSON.stringify(run.input) }),
    run.output !== undefined && run.output !== null ? el("div", {}, el("h4", { text: "Output" }), el("pre", { text: JSON.stringify(run.output) })) : null,
    approvals.length ? el("div", {}, el("h4", { text: "Waiting for approval" }), el("ul", {}, approvals)) : null,
    el("h4", { text: "Timeline" }),
    el("ol", { class: "timeline" }, list.map((e) => el("li", { text: `${e.type || e.kind || "event"} ${JSON.stringify(e.data || {})}` }))),
    ["succeeded", "failed", "cancelled"].includes(run.status) ? null : el("button", {
      type: "button", class: "danger", text: "Cancel run",
      onclick: async () => {
        try { await api("POST", `/v1/agent-runs/${encodeURIComponent(id)}/cancel`, {}); await showAgentRun(id, into); }
        catch (err) { into.prepend(el("p", { class: "error", text: errorText(err) })); }
      },
    }));
  into.focus();
}

pages.runs = function (page) {
  page.append(el("h1", { text: "Runs" }));
  if (!hasScope("events")) { page.append(el("p", { text: "Runs need the events scope." })); return; }
  const agents = el("div"), workflows = el("div"), detail = el("section", { tabindex: "-1", "aria-label": "Run details" });
  page.append(el("h2", { text: "Agent runs" }), agents, detail, el("h2", { text: "Workflow runs" }), workflows);
  api("GET", "/v1/agent-runs?limit=50").then((list) => agents.replaceChildren(table("Agent runs, newest first", ["Run", "Agent", "Status", "Steps", "Updated"],
    list.items.map((r) => [el("button", { type: "button", class: "secondary", text: r.id, onclick: () => showAgentRun(r.id, detail).catch((err) => detail.replaceChildren(el("p", { class: "error", text: errorText(err) }))) }),
      r.agent, badge(r.status), el("td", { class: "num", text: (r.steps || []).length }), r.updated_at]))))
    .catch((err) => agents.replaceChildren(el("p", { class: "error", text: errorText(err) })));
  api("GET", "/v1/workflow-runs?limit=50").then((list) => workflows.replaceChildren(table("Workflow runs, newest first", ["Run", "Workflow", "Status", "Steps", "Updated"],
    list.items.map((r) => [el("button", { type: "button", class: "secondary", text: r.id, onclick: () => showWorkflowRun(r.id, detail).catch((err) => detail.replaceChildren(el("p", { class: "error", text: errorText(err) }))) }),
      r.workflow || "", badge(r.status), el("td", { class: "num", text: (r.steps || []).length }), r.updated_at || ""]))))
    .catch((err) => workflows.replaceChildren(el("p", { class: "error", text: errorText(err) })));
};

async function showWorkflowRun(id, into) {
  const run = await api("GET", "/v1/workflow-runs/" + encodeURIComponent(id));
  into.replaceChildren(
    el("h3", { text: `Workflow run ${run.id}` }), el("p", {}, "Status: ", badge(run.status)),
    el("h4", { text: "Input" }), el("pre", { text: JSON.stringify(run.input) }),
    el("h4", { text: "Steps" }),
    el("ol", { class: "timeline" }, (run.steps || []).map((step) => el("li", {},
      el("span", { text: `${step.name || step.id || "step"}: ` }), badge(step.status || ""),
      step.output !== undefined ? el("pre", { text: JSON.stringify(step.output) }) : null,
      step.error ? el("pre", { text: JSON.stringify(step.error) }) : null))),
    ["succeeded", "failed", "cancelled"].includes(run.status) ? null : el("button", {
      type: "button", class: "danger", text: "Cancel run",
      onclick: async () => {
        try { await api("POST", `/v1/workflow-runs/${encodeURIComponent(id)}/cancel`, {}); await showWorkflowRun(id, into); }
        catch (err) { into.prepend(el("p", { class: "error", text: errorText(err) })); }
      },
    }));
  into.focus();
}

const SCOPES = ["inference", "documents:read", "documents:write", "contexts", "registry", "events", "admin"];

pages.admin = function (page) {
  page.append(el("h1", { text: "Admin" }));
  if (!hasScope("admin")) { page.append(el("p", { text: "This page needs the admin scope." })); return; }
  const keys = el("div"), created = el("div", { "aria-live": "polite" }), models = el("div"), services = el("div"), usage = el("div");
  const name = el("input", { name: "name", required: true });
  const rate = el("input", { name: "rate_limit", placeholder: "600/min" });
  const tokens = el("input", { name: "token_limit", placeholder: "100000/day" });
  const boxes = SCOPES.map((s) => el("input", { type: "checkbox", name: "scope", value: s, id: "scope-" + s.replace(":", "-") }));
  const loadKeys = async () => {
    try {
      const list = await api("GET", "/v1/keys");
      const items = Array.isArray(list) ? list : list.keys || list.items || [];
      keys.replaceChildren(table("Keys", ["Id", "Name", "Tenant", "Scopes", "Created", "Revoked", ""],
        items.map((k) => [k.id, k.name, k.tenant || "", (k.scopes || []).join(", "), k.created_at, k.revoked_at || "",
          k.revoked_at ? "" : el("button", { type: "button", class: "danger", text: "Revoke " + k.name,
            onclick: async () => { try { await api("DELETE", "/v1/keys/" + encodeURIComponent(k.id)); announce("Key revoked"); loadKeys(); } catch (err) { created.replaceChildren(el("p", { class: "error", text: errorText(err) })); } } })])));
    } catch (err) { keys.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
  };
  const create = async (e) => {
    e.preventDefault();
    const body = { name: name.value, scopes: boxes.filter((b) => b.checked).map((b) => b.value) };
    if (rate.value) body.rate_limit = rate.value;
    if (tokens.value) body.token_limit = tokens.value;
    try {
      const made = await api("POST", "/v1/keys", body);
      created.replaceChildren(el("p", { text: "The new key's token — shown this once, copy it now:" }), el("p", { class: "token", id: "new-token", text: made.token }));
      loadKeys();
    } catch (err) { created.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
  };
  page.append(el("h2", { text: "Keys" }),
    el("form", { onsubmit: create }, field("Name", name), field("Rate limit", rate), field("Token limit", tokens),
      el("fieldset", {}, el("legend", { text: "Scopes" }), boxes.map((b) => el("span", {}, b, el("label", { for: b.id, text: " " + b.value + " " })))),
      el("button", { type: "submit", text: "Create key" })), created, keys,
    el("h2", { text: "Models" }), models, el("h2", { text: "Registry services" }), services, el("h2", { text: "Usage per key" }), usage);
  loadKeys();
  const loadModels = async () => {
    try {
      const list = await api("GET", "/v1/models");
      models.replaceChildren(table("Models", ["Model", "Kind", "State", ""], (list.data || []).map((m) => [m.id, m.kind || "", badge(m.state || ""),
        el("button", { type: "button", class: "secondary", text: (m.state === "loaded" ? "Unload " : "Load ") + m.id,
          onclick: async () => { try { await api("POST", `/v1/models/${encodeURIComponent(m.id)}/${m.state === "loaded" ? "unload" : "load"}`, {}); loadModels(); } catch (err) { models.prepend(el("p", { class: "error", text: errorText(err) })); } } })])));
    } catch (err) { models.replaceChildren(el("p", { class: "error", text: errorText(err) })); }
  };
  loadModels();
  api("GET", "/v1/services").then((list) => services.replaceChildren(table("Services", ["Name", "Version", "Instances", "Health"],
    (list.services || list.items || []).map((s) => [s.name, s.version || "", (s.instances || []).length, badge(s.health || s.status || "")]))))
    .catch((err) => services.replaceChildren(el("p", { class: "error", text: errorText(err) })));
  api("GET", "/v1/usage?group_by=key").then((report) => usage.replaceChildren(table("Usage by key", ["Key", "Calls", "Prompt tokens", "Completion tokens", "Embedding tokens"],
    report.items.map((u) => [u.key_id || "", u.requests ?? u.calls ?? 0, u.prompt_tokens ?? 0, u.completion_tokens ?? 0, u.embedding_tokens ?? 0]))))
    .catch((err) => usage.replaceChildren(el("p", { class: "error", text: errorText(err) })));
};

pages.playground = function (page) {
  page.append(el("h1", { text: "Playground" }));
  if (!hasScope("inference")) { page.append(el("p", { text: "The playground needs the inference scope." })); return; }
  const model = el("select", { name: "model" }), context = el("select", { name: "context" }, el("option", { value: "", text: "No context" }));
  const message = el("textarea", { name: "message", required: true });
  const reply = el("div", { class: "reply", role: "log", "aria-label": "Reply" });
  api("GET", "/v1/models").then((list) => (list.data || []).filter((m) => m.kind !== "embedding" && m.kind !== "rerank")
    .forEach((m) => model.append(el("option", { value: m.id, text: m.id })))).catch(() => {});
  if (hasScope("contexts")) {
    api("GET", "/v1/contexts?limit=50").then((list) => (list.items || []).forEach((c) =>
      context.append(el("option", { value: c.id, text: c.name || c.id })))).catch(() => {});
  }
  const send = async (e) => {
    e.preventDefault();
    stopPage();
    const controller = new AbortController();
    state.controllers.push(controller);
    reply.textContent = "";
    const path = context.value ? `/v1/contexts/${encodeURIComponent(context.value)}/chat` : "/v1/chat/completions";
    const body = context.value ? { message: message.value, stream: true }
      : { model: model.value, stream: true, messages: [{ role: "user", content: message.value }] };
    try {
      const response = await api("POST", path, body, { raw: true, signal: controller.signal });
      await readSse(response, (m) => {
        if (m.data === "[DONE]") return;
        try {
          const chunk = JSON.parse(m.data);
          const text = (chunk.choices && chunk.choices[0] && chunk.choices[0].delta && chunk.choices[0].delta.content) || chunk.text || chunk.delta || "";
          if (typeof text === "string") reply.append(text);
        } catch (_) { /* a keep-alive or non-JSON line */ }
      });
      announce("Reply complete");
    } catch (err) {
      if (err.name !== "AbortError") reply.replaceChildren(el("p", { class: "error", text: errorText(err) }));
    }
  };
  page.append(el("form", { onsubmit: send }, field("Model", model), field("Context", context),
    el("div", { class: "field", style: null }, el("label", { for: "f-message", text: "Message" }), Object.assign(message, { id: "f-message" })),
    el("button", { type: "submit", text: "Send" })), el("h2", { text: "Reply" }), reply);
};

