// Small helpers of the dashboard's page: building elements without parsing HTML, and formatting.

const SVG = "http://www.w3.org/2000/svg";

/** An element with attributes (on* are listeners) and children (strings become text: nothing is parsed as HTML). */
export function h(tag, attributes = {}, ...children) {
  const element = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) element.append(child instanceof Node ? child : String(child));
  return element;
}

export const keyOf = (view) => `${view.namespace}/${view.name}`;
export const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");
export const number = (value) => (typeof value === "number" ? (Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(4)).toString()) : "–");
export const percent = (ratio) => `${(ratio * 100).toPrecision(3)}%`;
