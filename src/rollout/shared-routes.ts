/**
 * Two Rollouts in one repository naming the same VirtualService route: the later one (in the
 * order given: file path, then position) is refused, as the controller would refuse it at run
 * time (src/traffic/route-owners.ts). Without the VirtualService at hand this is judged from the
 * specs alone: Rollouts that list no routes may manage any route, so they overlap every Rollout
 * of the same VirtualService. Pure.
 */
import { headerRouteName } from "./model.js";
import type { ParsedRollout, ParseResult } from "./parse.js";
import type { FieldPath } from "./parse-positions.js";
import { renderPath } from "./parse-positions.js";

export const VIRTUAL_SERVICE_PATH: FieldPath = ["spec", "trafficRouting", "istio", "virtualService"];

/** Why `later` may not have the routes `first` has, or undefined when they do not overlap. */
function overlap(first: ParsedRollout, later: ParsedRollout): string | undefined {
  const vs = (parsed: ParsedRollout) => parsed.rollout.spec.trafficRouting.istio.virtualService;
  const vsName = vs(first).name;
  const owner = `Rollout ${first.rollout.namespace}/${first.rollout.name} (${first.file}:${(first.virtualServicePosition ?? first).line})`;
  const firstRoutes = vs(first).routes;
  const laterRoutes = vs(later).routes;
  if (firstRoutes === undefined || laterRoutes === undefined) {
    return `VirtualService ${vsName} is already managed by ${owner}, and a Rollout that lists no routes may manage any of its routes: list distinct routes in both`;
  }
  const shared = laterRoutes.find((route) => firstRoutes.includes(route));
  if (shared !== undefined) return `route ${shared} of VirtualService ${vsName} is already managed by ${owner}: two Rollouts cannot manage one route`;
  const header = headerRouteName(later.rollout.spec);
  if (header === headerRouteName(first.rollout.spec)) {
    return `header route ${header} of VirtualService ${vsName} is already managed by ${owner}: give one of them another header route name (setHeaderRoute.name)`;
  }
  return undefined;
}

/** Keeps each Rollout whose routes no earlier kept Rollout has, and reports every other at its virtualService field. */
export function refuseSharedRoutes(rollouts: readonly ParsedRollout[]): ParseResult {
  const result: ParseResult = { rollouts: [], problems: [] };
  const byVirtualService = new Map<string, ParsedRollout[]>();
  for (const parsed of rollouts) {
    const { namespace, name } = parsed.rollout;
    const key = `${namespace}/${parsed.rollout.spec.trafficRouting.istio.virtualService.name}`;
    const kept = byVirtualService.get(key) ?? [];
    const reason = kept.map((first) => overlap(first, parsed)).find((r) => r !== undefined);
    if (reason === undefined) {
      byVirtualService.set(key, [...kept, parsed]);
      result.rollouts.push(parsed);
      continue;
    }
    result.problems.push({
      file: parsed.file,
      ...(parsed.virtualServicePosition ?? { line: parsed.line, column: parsed.column }),
      path: renderPath(VIRTUAL_SERVICE_PATH),
      message: reason,
      rollout: { name, namespace },
    });
  }
  return result;
}
