// Story Portal console: one page, hash routes, the public API only. Every text that comes
// from the server is put in the page with textContent (never as HTML). This file: helpers,
// the API client, sign-in and routing; pages.js: the pages (loaded after it).
"use strict";

const KEY = "sp-console-key";
const state = { who: null, timers: [], controllers: [] };

// ---- helpers ----------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function table(caption, columns, rows) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", text: c })));
  const body = rows.length
    ? rows.map((cells) => el("tr", {}, cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c)))))
    : [el("tr", {}, el("td", { colspan: columns.length, text: "Nothing yet." }))];
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": caption },
    el("table", {}, el("caption", { text: caption }), el("thead", {}, head), el("tbody", {}, body)));
}

function badge(text) {
  return el("span", { class: String(text).replace(/[^a-z_]/gi, ""), text });
}

function announce(text) {
  document.getElementById("status").textContent = text;
}

function field(label, input) {
  const id = "f-" + label.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  input.id = id;
  return el("div", { class: "field" }, el("label", { for: id, text: label }), input);
}

function hasScope(scope) {
  const scopes = (state.who && state.who.scopes) || [];
  return scopes.includes("admin") || scopes.includes(scope);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body, options) {
  const headers = { authorization: "Bearer " + sessionStorage.getItem(KEY) };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: options && options.signal,
  });
  if (options && options.raw && response.ok) return response;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const failure = new ApiError(response.status, error.code || "", error.message || text || response.statusText);
    if (response.status === 401) signOut(failure);
    throw failure;
  }
  return data;
}

function errorText(err) {
  return err.code ? `${err.message} [${err.code}]` : String(err.message || err);
}

function every(ms, work) {
  work();
  state.timers.push(setInterval(work, ms));
}

function stopPage() {
  state.timers.forEach(clearInterval);
  state.controllers.forEach((c) => c.abort());
  state.timers = [];
  state.controllers = [];
}

// Reads a text/event-stream response; calls onEvent({event, data}) per message.
async function readSse(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) message.event = line.slice(6).trim();
        else if (line.startsWith("data:")) message.data += line.slice(5).trim();
      }
      if (message.data) onEvent(message);
    }
  }
}

// ---- sign in ----------------------------------------------------------------------------
async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  state.who = await api("GET", "/v1/auth/whoami");
  document.getElementById("sign-in").hidden = true;
  document.getElementById("page").hidden = false;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  document.getElementById("who-text").textContent =
    `${state.who.key_id} (${state.who.tenant}): ${state.who.scopes.join(", ")}`;
  document.getElementById("nav-admin").parentElement.hidden = !hasScope("admin");
  route();
}

function signOut(err) {
  stopPage();
  sessionStorage.removeItem(KEY);
  state.who = null;
  document.getElementById("page").hidden = true;
  document.getElementById("page").replaceChildren();
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  document.getElementById("sign-in").hidden = false;
  document.getElementById("sign-in-error").textContent = err ? errorText(err) : "";
  document.getElementById("key").focus();
}

// ---- routing ----------------------------------------------------------------------------
function route() {
  if (!state.who) return;
  stopPage();
  const [path, query] = (location.hash.slice(2) || "overview").split("?");
  const name = pages[path] ? path : "overview";
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === "#/" + name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const page = document.getElementById("page");
  page.replaceChildren();
  pages[name](page, new URLSearchParams(query || ""));
  document.title = `${name[0].toUpperCase()}${name.slice(1)} — Story Portal console`;
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = document.getElementById("key").value.trim();
    try { await signIn(key); document.getElementById("key").value = ""; }
    catch (err) { signOut(err); }
  });
  document.getElementById("sign-out").addEventListener("click", () => signOut(null));
  const saved = sessionStorage.getItem(KEY);
  if (saved) signIn(saved).catch(signOut);
  else document.getElementById("key").focus();
});
