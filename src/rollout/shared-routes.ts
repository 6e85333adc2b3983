/**
 * Two Rollouts in one repository naming the same VirtualService route: the later one (in the
 * order given: file path, then position) is refused, as the controller would refuse it at run
 * time (src/traffic/route-owners.ts). Without the VirtualService at hand this is judged from the
 * specs alone: Rollouts that list no routes may manage any route, so they overlap every Rollout
 * of the same VirtualService. Pure.
 */
import { headerRouteName } from "./model.js";
import type { ParsedRollout, ParseResult } from "./parse.js";
import { renderPath, type Position } from "./parse-positions.js";
import { virtualServiceLabel, virtualServicesOf, type VirtualServiceRef } from "./routing.js";

/** One VirtualService of one Rollout, with where the file names it. */
interface Named {
  parsed: ParsedRollout;
  ref: VirtualServiceRef;
  position: Position;
}

/** Why `later` may not have the routes `first` has on the same VirtualService, or undefined when they do not overlap. */
function overlap(first: Named, later: Named): string | undefined {
  const vsName = virtualServiceLabel(later.parsed.rollout, later.ref);
  const owner = `Rollout ${first.parsed.rollout.namespace}/${first.parsed.rollout.name} (${first.parsed.file}:${first.position.line})`;
  const firstRoutes = first.ref.routes;
  const laterRoutes = later.ref.routes;
  if (firstRoutes === undefined || laterRoutes === undefined) {
    return `VirtualService ${vsName} is already managed by ${owner}, and a Rollout that lists no routes may manage any of its routes: list distinct routes in both`;
  }
  const shared = laterRoutes.find((route) => firstRoutes.includes(route));
  if (shared !== undefined) return `route ${shared} of VirtualService ${vsName} is already managed by ${owner}: two Rollouts cannot manage one route`;
  const header = headerRouteName(later.parsed.rollout.spec);
  if (header === headerRouteName(first.parsed.rollout.spec)) {
    return `header route ${header} of VirtualService ${vsName} is already managed by ${owner}: give one of them another header route name (setHeaderRoute.name)`;
  }
  return undefined;
}

/** Keeps each Rollout whose routes no earlier kept Rollout has, and reports every other at the VirtualService they share. */
export function refuseSharedRoutes(rollouts: readonly ParsedRollout[]): ParseResult {
  const result: ParseResult = { rollouts: [], problems: [] };
  const byVirtualService = new Map<string, Named[]>();
  for (const parsed of rollouts) {
    const { namespace, name } = parsed.rollout;
    const named = virtualServicesOf(parsed.rollout).map((ref, index) => ({ parsed, ref, position: parsed.virtualServicePositions?.[index] ?? { line: parsed.line, column: parsed.column } }));
    const refused = named.flatMap((later) => {
      const kept = byVirtualService.get(`${later.ref.namespace}/${later.ref.name}`) ?? [];
      const reason = kept.map((first) => overlap(first, later)).find((r) => r !== undefined);
      return reason === undefined ? [] : [{ later, reason }];
    });
    const [problem] = refused;
    if (problem === undefined) {
      for (const later of named) byVirtualService.set(`${later.ref.namespace}/${later.ref.name}`, [...(byVirtualService.get(`${later.ref.namespace}/${later.ref.name}`) ?? []), later]);
      result.rollouts.push(parsed);
      continue;
    }
    result.problems.push({
      file: parsed.file,
      ...problem.later.position,
      path: renderPath(problem.later.ref.field),
      message: problem.reason,
      rollout: { name, namespace },
    });
  }
  return result;
}
