// Tideway's dashboard page: renders the views the server streams (/api/stream) and sends the
// buttons' commands (POST /api/rollouts/{namespace}/{name}/{action}). No framework, no build step.
import { fill, makeCard } from "./card.js";
import { h, keyOf } from "./dom.js";

const csrfToken = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
/** Served by the controller, the page is read-only until given a bearer token, kept for this tab only. */
const TOKEN_KEY = "tideway-bearer-token";
let needsToken = false;
let user = "";

function bearer() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

/** Rollout views by "namespace/name", as last streamed. */
const rollouts = new Map();
/** The card elements by key (card.js). */
const cards = new Map();

function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = text;
}

// ---- the list, filters and the stream --------------------------------------------------------

function matches(view) {
  const namespace = document.getElementById("namespace").value;
  const words = document.getElementById("search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const text = [view.name, view.namespace, view.phase, view.stableVersion, view.canaryVersion ?? ""].join(" ").toLowerCase();
  return (namespace === "" || view.namespace === namespace) && words.every((w) => text.includes(w));
}

function refreshList() {
  const list = document.getElementById("rollouts");
  const keys = [...rollouts.keys()].sort();
  for (const [key, card] of cards) {
    if (rollouts.has(key)) continue;
    card.remove();
    cards.delete(key);
  }
  let shown = 0;
  keys.forEach((key, index) => {
    const card = cards.get(key);
    if (list.children[index] !== card) list.insertBefore(card, list.children[index] ?? null);
    card.hidden = !matches(rollouts.get(key));
    if (!card.hidden) shown += 1;
  });
  const empty = document.getElementById("empty");
  empty.hidden = shown > 0;
  empty.textContent = rollouts.size === 0 ? "No Rollouts found." : "No Rollout matches the filter.";
  const select = document.getElementById("namespace");
  const namespaces = [...new Set([...rollouts.values()].map((v) => v.namespace))].sort();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join("\n") !== namespaces.join("\n")) {
    const chosen = select.value;
    select.replaceChildren(h("option", { value: "" }, "All namespaces"), ...namespaces.map((n) => h("option", { value: n }, n)));
    select.value = namespaces.includes(chosen) ? chosen : "";
  }
}

function upsert(view) {
  const key = keyOf(view);
  const before = rollouts.get(key);
  rollouts.set(key, view);
  let card = cards.get(key);
  if (!card) cards.set(key, (card = makeCard(view, requestAction)));
  fill(card, view);
  lockButtons(card);
  if (before && (before.phase !== view.phase || before.canaryWeight !== view.canaryWeight)) {
    announce(`${view.name}: ${view.phase}, ${view.canaryWeight}% to ${view.canaryVersion ?? "canary"}`);
  }
}

/** Without a token, the controller's page shows the buttons but none works. */
function lockButtons(card) {
  if (!needsToken || bearer()) return;
  for (const button of card.querySelectorAll("button[data-action]")) button.disabled = true;
}

function showAccess() {
  document.getElementById("access").hidden = !needsToken;
  document.getElementById("user").textContent = !needsToken
    ? `acting as ${user}`
    : bearer()
      ? "buttons act as the bearer token's user, if the API server allows it"
      : "read-only: give a bearer token to use the buttons";
  for (const [key, view] of rollouts) {
    const card = cards.get(key);
    fill(card, view);
    lockButtons(card);
  }
}

function setBearer(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (private mode): the token cannot be kept
  }
  document.getElementById("bearer-token").value = "";
  showAccess();
  announce(token ? "Bearer token set for this tab." : "Bearer token forgotten; the page is read-only.");
}

function showProblem(problem) {
  const banner = document.getElementById("connection");
  banner.hidden = !problem;
  banner.textContent = problem ?? "";
}

function connect() {
  const source = new EventSource("/api/stream");
  source.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    const seen = new Set();
    for (const view of data.rollouts) {
      upsert(view);
      seen.add(keyOf(view));
    }
    for (const key of [...rollouts.keys()]) if (!seen.has(key)) rollouts.delete(key);
    needsToken = data.access === "token";
    user = data.user ?? "";
    showAccess();
    showProblem(data.problem);
    refreshList();
  });
  source.addEventListener("rollout", (event) => {
    upsert(JSON.parse(event.data));
    refreshList();
  });
  source.addEventListener("removed", (event) => {
    const { namespace, name } = JSON.parse(event.data);
    rollouts.delete(`${namespace}/${name}`);
    refreshList();
    announce(`${name} in ${namespace} was removed`);
  });
  source.addEventListener("problem", (event) => showProblem(JSON.parse(event.data).problem));
  source.addEventListener("error", () => showProblem("Connection to the dashboard lost; reconnecting…"));
  source.addEventListener("open", () => showProblem(undefined));
}

// ---- the buttons ------------------------------------------------------------------------------

async function send(key, action, reason) {
  const [namespace, name] = key.split("/");
  const response = await fetch(`/api/rollouts/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-tideway-csrf": csrfToken, ...(needsToken && bearer() ? { authorization: `Bearer ${bearer()}` } : {}) },
    body: JSON.stringify(reason === undefined ? {} : { reason }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

async function run(key, definition, reason) {
  const card = cards.get(key);
  const result = card?.querySelector('[data-part="result"]');
  const name = key.split("/")[1];
  try {
    const written = await send(key, definition.action, reason);
    const text = `${name}: ${definition.label.toLowerCase()} sent (tideway.io/${written.command}=${JSON.stringify(written.value)} by ${written.by}); the controller acts on it within a second.`;
    if (result) {
      result.textContent = text;
      result.classList.remove("error");
    }
    announce(text);
  } catch (error) {
    const text = `${name}: ${definition.label.toLowerCase()} failed: ${error.message}`;
    if (result) {
      result.textContent = text;
      result.classList.add("error");
    }
    announce(text);
    throw error;
  }
}

function requestAction(key, definition) {
  if (!definition.confirm) {
    run(key, definition).catch(() => undefined);
    return;
  }
  const view = rollouts.get(key);
  const dialog = document.getElementById("confirm");
  const reasonField = document.getElementById("reason-field");
  const reason = document.getElementById("reason");
  const error = document.getElementById("confirm-error");
  document.getElementById("confirm-title").textContent = `${definition.label} ${view.name}?`;
  document.getElementById("confirm-text").textContent =
    definition.action === "abort"
      ? `All traffic goes back to stable ${view.stableVersion}; ${view.canaryVersion ?? "the canary"} is marked aborted and not tried again until retried or its version changes.`
      : `${view.canaryVersion ?? "The canary"} gets 100% of traffic now and becomes stable, skipping the remaining steps and checks.`;
  reasonField.hidden = !definition.reason;
  reason.required = Boolean(definition.reason);
  reason.value = "";
  error.textContent = "";
  const ok = document.getElementById("confirm-ok");
  ok.textContent = definition.label;
  const form = document.getElementById("confirm-form");
  form.onsubmit = async (event) => {
    event.preventDefault();
    const why = reason.value.trim();
    if (definition.reason && why === "") {
      error.textContent = "A reason is needed.";
      reason.focus();
      return;
    }
    ok.disabled = true;
    try {
      await run(key, definition, definition.reason ? why : undefined);
      dialog.close();
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      ok.disabled = false;
    }
  };
  document.getElementById("confirm-cancel").onclick = () => dialog.close();
  dialog.showModal();
  (definition.reason ? reason : document.getElementById("confirm-cancel")).focus();
}

document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());
document.getElementById("access").addEventListener("submit", (event) => {
  event.preventDefault();
  setBearer(document.getElementById("bearer-token").value.trim());
});
document.getElementById("bearer-forget").addEventListener("click", () => setBearer(""));
document.getElementById("namespace").addEventListener("change", refreshList);
document.getElementById("search").addEventListener("input", refreshList);
connect();
