// Tideway's dashboard page: renders the views the server streams (/api/stream) and sends the
// buttons' commands (POST /api/rollouts/{namespace}/{name}/{action}). No framework, no build step.

const csrfToken = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
const SVG = "http://www.w3.org/2000/svg";

/** Rollout views by "namespace/name", as last streamed. */
const rollouts = new Map();
/** The card elements by key: made once, their parts refreshed on each update (focus and open sections survive). */
const cards = new Map();

const ACTIONS = [
  { action: "promote", label: "Promote step", title: "complete the current step" },
  { action: "promote-full", label: "Promote full", title: "send 100% to the canary now; it becomes stable", confirm: true },
  { action: "pause", label: "Pause", title: "hold the release where it is" },
  { action: "resume", label: "Resume", title: "continue a paused release" },
  { action: "retry", label: "Retry", title: "start the rolled-back or aborted version again" },
  { action: "abort", label: "Abort", title: "send all traffic back to stable", confirm: true, reason: true, danger: true },
];

/** An element with attributes (on* are listeners) and children (strings become text: nothing is parsed as HTML). */
function h(tag, attributes = {}, ...children) {
  const element = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) element.append(child instanceof Node ? child : String(child));
  return element;
}

const keyOf = (view) => `${view.namespace}/${view.name}`;
const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");
const number = (value) => (typeof value === "number" ? (Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(4)).toString()) : "–");
const percent = (ratio) => `${(ratio * 100).toPrecision(3)}%`;

function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = text;
}

// ---- charts ---------------------------------------------------------------------------------

/** A small line chart of a metric's checks: value against its thresholds, or canary against stable. */
function chart(metric) {
  const samples = metric.samples;
  const compare = samples.some((s) => typeof s.canary === "number" || typeof s.stable === "number");
  const width = 220;
  const height = 56;
  const pad = 4;
  const lines = compare
    ? [
        { name: "canary", className: "line-canary", values: samples.map((s) => s.canary) },
        { name: "stable", className: "line-stable", values: samples.map((s) => s.stable) },
      ]
    : [{ name: "value", className: "line-value", values: samples.map((s) => s.value) }];
  const thresholds = compare ? [] : [metric.min, metric.max].filter((t) => typeof t === "number");
  const all = [...lines.flatMap((l) => l.values), ...thresholds].filter((v) => typeof v === "number");
  const label = compare
    ? `${metric.name}: share of bad requests so far, canary against stable, over ${samples.length} checks`
    : `${metric.name} over ${samples.length} checks: ${samples.map((s) => number(s.value)).join(", ")}${thresholds.length ? `; threshold ${thresholds.map(number).join(" and ")}` : ""}`;
  const svg = h("svg:svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label, class: "chart" }, h("svg:title", {}, label));
  if (samples.length === 0 || all.length === 0) {
    svg.append(h("svg:text", { x: pad, y: height / 2 + 4, class: "chart-empty" }, "no checks yet"));
    return svg;
  }
  let low = Math.min(...all);
  let high = Math.max(...all);
  if (high - low < 1e-9) {
    low -= Math.abs(low) * 0.05 || 0.5;
    high += Math.abs(high) * 0.05 || 0.5;
  }
  const x = (i) => (samples.length <= 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (samples.length - 1));
  const y = (v) => height - pad - ((v - low) / (high - low)) * (height - 2 * pad);
  for (const t of thresholds) svg.append(h("svg:line", { x1: 0, x2: width, y1: y(t), y2: y(t), class: "threshold" }));
  for (const line of lines) {
    const points = line.values.map((v, i) => (typeof v === "number" ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : undefined)).filter(Boolean);
    if (points.length > 1) svg.append(h("svg:polyline", { points: points.join(" "), class: line.className }));
    const last = points.at(-1);
    if (last) {
      const [cx, cy] = last.split(",");
      svg.append(h("svg:circle", { cx, cy, r: 2.5, class: line.className }));
    }
  }
  return svg;
}

// ---- one Rollout ------------------------------------------------------------------------------

function weightBar(view) {
  const canary = view.canaryVersion && view.releaseId !== undefined ? view.canaryVersion : undefined;
  const text = canary ? `${view.canaryWeight}% to canary ${canary}, ${100 - view.canaryWeight}% to stable ${view.stableVersion}` : `100% to stable ${view.stableVersion || "–"}`;
  const fill = h("div", { class: "weight-canary" });
  fill.style.width = `${view.canaryWeight}%`;
  return h(
    "div",
    { class: "weight-row" },
    h("div", { class: "weight", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": view.canaryWeight, "aria-label": "canary weight", "data-weight": view.canaryWeight }, fill),
    h("span", { class: "weight-text" }, text, view.headerRoute ? " (header route on)" : ""),
  );
}

function stepList(view) {
  if (view.steps.length === 0) return h("p", { class: "muted" }, "no steps");
  const items = view.steps.map((text, i) => {
    const current = view.stepIndex === i;
    const done = view.stepIndex !== undefined && i < view.stepIndex;
    return h(
      "li",
      { class: current ? "step current" : done ? "step done" : "step", "aria-current": current ? "step" : undefined },
      text,
      current && view.waitingFor ? ` — waiting for ${view.waitingFor}` : "",
    );
  });
  if (view.stepIndex !== undefined && view.stepIndex >= view.steps.length) items.push(h("li", { class: "step current", "aria-current": "step" }, "final check before promotion"));
  return h("ol", { class: "steps" }, items);
}

function metricsTable(view) {
  if (view.metrics.length === 0) return h("p", { class: "muted" }, "no analysis");
  const ended = view.releaseId === undefined && view.checksOfRelease !== undefined;
  const threshold = (m) =>
    [m.min !== undefined ? `≥ ${number(m.min)}` : "", m.max !== undefined ? `≤ ${number(m.max)}` : "", m.maxIncrease !== undefined ? `≤ ${1 + m.maxIncrease}× stable` : ""]
      .filter(Boolean)
      .join(", ") || "–";
  const evidence = (m) =>
    m.evidence
      ? `canary ${m.evidence.canary.bad}/${m.evidence.canary.requests} bad${m.evidence.canary.requests ? ` (${percent(m.evidence.canary.bad / m.evidence.canary.requests)})` : ""}, stable ${m.evidence.stable.bad}/${m.evidence.stable.requests}${m.evidence.stable.requests ? ` (${percent(m.evidence.stable.bad / m.evidence.stable.requests)})` : ""}`
      : "";
  return h(
    "table",
    { class: "metrics" },
    h("caption", { class: ended ? "small muted" : "visually-hidden" }, ended ? `Checks of the last release (#${view.checksOfRelease}) as this dashboard saw them` : `Checks of ${view.name}`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Metric", "Last value", "Threshold", "Outcome", "Checks", "Over time"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      {},
      view.metrics.map((m) =>
        h(
          "tr",
          { "data-metric": m.name },
          h("th", { scope: "row" }, m.name),
          h("td", { class: "value" }, number(m.lastValue), m.lastCheckedAt ? h("div", { class: "muted small" }, when(m.lastCheckedAt)) : ""),
          h("td", {}, threshold(m)),
          h(
            "td",
            {},
            m.lastOutcome ? h("span", { class: `outcome outcome-${m.lastOutcome}` }, m.lastOutcome) : "–",
            m.lastMessage ? h("div", { class: "small" }, m.lastMessage) : "",
            evidence(m) ? h("div", { class: "small muted" }, evidence(m)) : "",
          ),
          h("td", { class: "small" }, m.counts ? `${m.counts.passed} passed, ${m.counts.failed} failed, ${m.counts.inconclusive} inconclusive, ${m.counts.errored} errors` : "–"),
          h("td", {}, chart(m)),
        ),
      ),
    ),
  );
}

function historyTable(view) {
  if (view.history.length === 0) return h("p", { class: "muted" }, "no releases yet");
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Release", "Outcome", "Reason", "Started", "Finished"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      {},
      view.history.map((r) =>
        h(
          "tr",
          {},
          h("td", {}, `#${r.id} ${r.fromVersion} → ${r.version}`),
          h("td", {}, h("span", { class: `outcome outcome-${r.outcome}` }, r.outcome)),
          h("td", {}, r.reason),
          h("td", {}, when(r.startedAt)),
          h("td", {}, when(r.finishedAt)),
        ),
      ),
    ),
  );
}

function eventList(view) {
  if (view.events.length === 0) return h("p", { class: "muted" }, "no Events");
  return h(
    "ul",
    { class: "events" },
    view.events.map((e) =>
      h(
        "li",
        { class: e.type === "Warning" ? "event warning" : "event" },
        h("span", { class: "muted small" }, when(e.at)),
        " ",
        h("strong", {}, e.reason),
        e.count > 1 ? ` ×${e.count}` : "",
        ": ",
        e.message,
      ),
    ),
  );
}

function commitLine(view) {
  const c = view.commit;
  if (!c) return h("span", { class: "muted" }, "no commit recorded");
  return h("span", {}, h("code", { title: c.sha }, c.sha.slice(0, 7)), c.subject ? ` ${c.subject}` : "", c.author ? h("span", { class: "muted" }, ` — ${c.author}`) : "");
}

function commandList(view) {
  if (view.commands.length === 0) return h("p", { class: "muted" }, "no commands yet");
  return h(
    "ul",
    { class: "commands" },
    view.commands.map((c) => h("li", {}, h("span", { class: "muted small" }, when(c.at)), ` ${c.command}${c.value ? ` "${c.value}"` : ""}${c.user ? ` by ${c.user}` : ""}: ${c.result}`)),
  );
}

function makeCard(view) {
  const key = keyOf(view);
  const id = `rollout-${key.replace(/[^a-zA-Z0-9-]/g, "-")}`;
  const part = (name, tag = "div", attributes = {}) => h(tag, { ...attributes, "data-part": name });
  const buttons = ACTIONS.map((a) => h("button", { type: "button", "data-action": a.action, title: a.title, class: a.danger ? "danger" : undefined, onclick: () => requestAction(key, a) }, a.label));
  const card = h(
    "article",
    { class: "rollout", id, "aria-labelledby": `${id}-title`, "data-key": key },
    h("header", { class: "card-head" }, h("h2", { id: `${id}-title` }, view.name, h("span", { class: "namespace" }, view.namespace)), part("phase", "span")),
    part("message", "p", { class: "message" }),
    part("invalid", "p", { class: "error" }),
    h("div", { class: "row" }, part("versions", "p", { class: "versions" }), part("commit", "p", { class: "commit" })),
    part("weight"),
    h("div", { class: "actions", role: "group", "aria-label": `Commands for ${view.name}` }, buttons),
    h("p", { class: "action-result", role: "status", "data-part": "result" }),
    h(
      "div",
      { class: "columns" },
      h("section", { "aria-label": "Steps" }, h("h3", {}, "Steps"), part("steps")),
      h("section", { "aria-label": "Checks", class: "wide" }, h("h3", {}, "Checks"), part("metrics")),
    ),
    h("details", {}, h("summary", {}, "History of releases"), part("history")),
    h("details", { open: true }, h("summary", {}, "Events"), part("events")),
    h("details", {}, h("summary", {}, "Commands"), part("commands")),
  );
  return card;
}

function fill(card, view) {
  const set = (name, ...content) => card.querySelector(`[data-part="${name}"]`).replaceChildren(...content.flat().filter((c) => c !== undefined && c !== null && c !== false && c !== ""));
  set("phase", h("span", { class: `phase phase-${view.phase}` }, view.phase, view.pauseReason && view.phase === "Paused" ? ` (${view.pauseReason})` : ""));
  set("message", view.message);
  set("invalid", view.invalid ? `The file in git is invalid; its last good version stays in force: ${view.invalid}` : "");
  set("versions", "stable ", h("strong", {}, view.stableVersion || "–"), view.canaryVersion ? [" · canary ", h("strong", {}, view.canaryVersion)] : "", view.step ? ` · step ${view.step}` : "");
  set("commit", commitLine(view));
  set("weight", weightBar(view));
  set("steps", stepList(view));
  set("metrics", metricsTable(view));
  set("history", historyTable(view));
  set("events", eventList(view));
  set("commands", commandList(view));
  for (const button of card.querySelectorAll("button[data-action]")) button.disabled = !view.actions.includes(button.dataset.action);
  card.dataset.weight = String(view.canaryWeight);
  card.dataset.phase = view.phase;
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
  if (!card) cards.set(key, (card = makeCard(view)));
  fill(card, view);
  if (before && (before.phase !== view.phase || before.canaryWeight !== view.canaryWeight)) {
    announce(`${view.name}: ${view.phase}, ${view.canaryWeight}% to ${view.canaryVersion ?? "canary"}`);
  }
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
    document.getElementById("user").textContent = `acting as ${data.user}`;
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
    headers: { "content-type": "application/json", "x-tideway-csrf": csrfToken },
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
document.getElementById("namespace").addEventListener("change", refreshList);
document.getElementById("search").addEventListener("input", refreshList);
connect();
