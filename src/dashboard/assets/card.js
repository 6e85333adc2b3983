// One Rollout's card: made once, its parts refreshed on each update (focus and open sections survive).
import { chart } from "./chart.js";
import { h, keyOf, number, percent, when } from "./dom.js";

/** The buttons, in the order they are shown; `confirm`: asks first; `reason`: asks why. */
export const ACTIONS = [
  { action: "promote", label: "Promote step", title: "complete the current step" },
  { action: "promote-full", label: "Promote full", title: "send 100% to the canary now; it becomes stable", confirm: true },
  { action: "pause", label: "Pause", title: "hold the release where it is" },
  { action: "resume", label: "Resume", title: "continue a paused release" },
  { action: "retry", label: "Retry", title: "start the rolled-back or aborted version again" },
  { action: "abort", label: "Abort", title: "send all traffic back to stable", confirm: true, reason: true, danger: true },
];

function weightBar(view) {
  const canary = view.canaryVersion && view.releaseId !== undefined ? view.canaryVersion : undefined;
  const text = canary ? `${view.canaryWeight}% to canary ${canary}, ${100 - view.canaryWeight}% to stable ${view.stableVersion}` : `100% to stable ${view.stableVersion || "–"}`;
  const fill = h("div", { class: "weight-canary" });
  fill.style.width = `${view.canaryWeight}%`;
  return h(
    "div",
    { class: "weight-row" },
    h("div", { class: "weight", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": view.canaryWeight, "aria-label": "canary weight", "aria-valuetext": text }, fill),
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

export function makeCard(view, onAction) {
  const key = keyOf(view);
  const id = `rollout-${key.replace(/[^a-zA-Z0-9-]/g, "-")}`;
  const part = (name, tag = "div", attributes = {}) => h(tag, { ...attributes, "data-part": name });
  const buttons = ACTIONS.map((a) => h("button", { type: "button", "data-action": a.action, title: a.title, class: a.danger ? "danger" : undefined, onclick: () => onAction(key, a) }, a.label));
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

export function fill(card, view) {
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
