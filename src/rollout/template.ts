/** `{{ variable }}` templates in metric queries and destinations. */

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Variables a metric query may use. */
export const QUERY_VARIABLES = ["service", "namespace", "version", "canaryVersion", "stableVersion", "interval"] as const;
/** Variables a destination (subset or host) may use. */
export const DESTINATION_VARIABLES = ["service", "namespace", "version"] as const;
/** Variables a workload's pod template may use (labels, annotations, images, env values). */
export const WORKLOAD_VARIABLES = ["service", "version"] as const;

export interface TemplateProblem {
  /** Offset of the placeholder in the template. */
  offset: number;
  message: string;
}

/** Names every placeholder that is not one of `allowed`, or is malformed. */
export function checkTemplate(template: string, allowed: readonly string[]): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? "";
    if (!allowed.includes(name)) {
      const hint = closest(name, allowed);
      problems.push({
        offset: match.index,
        message: `unknown template variable "{{ ${name} }}"${hint ? ` (did you mean "{{ ${hint} }}"?)` : ""}; expected one of ${allowed.join(", ")}`,
      });
    }
  }
  const withoutPlaceholders = template.replace(PLACEHOLDER, "");
  const stray = withoutPlaceholders.search(/\{\{|\}\}/);
  if (stray >= 0) problems.push({ offset: stray, message: 'unbalanced "{{" or "}}" in template' });
  return problems;
}

/** Replaces every `{{ name }}` with `escape(values[name])`. Unknown names are left as they are. */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>, escape: (value: string) => string = (v) => v): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : escape(value);
  });
}

/** The candidate closest to `word` by edit distance, when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(1, Math.floor(word.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0] ?? 0;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, (previous[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length] ?? 0;
}
