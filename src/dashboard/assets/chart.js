// A small line chart per metric: its checks over time, against its threshold or stable.
import { h, number } from "./dom.js";

/** A small line chart of a metric's checks: value against its thresholds, or canary against stable. */
export function chart(metric) {
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
