/** `tideway plan <file>`: what a release of each Rollout in a file will do, and how long it takes at least. */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { formatDuration } from "../rollout/duration.js";
import { manualGates, minimumTimeMs, planRelease, type PlanLine } from "../rollout/plan.js";
import { formatProblem } from "../rollout/problem.js";

export { planRelease, type PlanLine } from "../rollout/plan.js";

const HEADINGS = ["STEP", "ACTION", "CANARY", "TAKES AT LEAST"] as const;

/** The plan as an aligned table, ending with the least time to promotion. */
export function formatPlan(name: string, lines: readonly PlanLine[]): string {
  const rows = lines.map((line) => [
    line.step === undefined ? "-" : String(line.step),
    line.action,
    `${line.canaryWeight}%${line.headerRoute ? " + header route" : ""}`,
    line.minimumMs === undefined ? "a promote" : line.minimumMs === 0 ? "immediate" : formatDuration(line.minimumMs),
  ]);
  const table = [[...HEADINGS], ...rows];
  const widths = HEADINGS.map((_, column) => Math.max(...table.map((row) => row[column]?.length ?? 0)));
  const text = table.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  const steps = lines.filter((line) => line.step !== undefined).length;
  return [`${name}: ${steps} ${steps === 1 ? "step" : "steps"}`, ...text, summary(lines), ""].join("\n");
}

function summary(lines: readonly PlanLine[]): string {
  const gates = manualGates(lines);
  const minimum = formatDuration(minimumTimeMs(lines));
  if (gates.length === 0) return `minimum time to promote: ${minimum}`;
  const where = gates.length === 1 ? `step ${gates[0]}` : `steps ${gates.slice(0, -1).join(", ")} and ${gates[gates.length - 1]}`;
  return `waits for a manual promote at ${where}; the other steps take at least ${minimum}`;
}

export function registerPlanCommand(program: Command): void {
  program
    .command("plan")
    .description("show what a release of each Rollout in a file does, step by step, and the least time it takes")
    .argument("<file>", "a YAML file with one or more Rollouts")
    .action(async (file: string) => {
      // The YAML parser is loaded by the commands that parse, not for every start of the CLI.
      const { parseRolloutFile } = await import("../rollout/parse.js");
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (error) {
        process.stderr.write(`error: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
        return;
      }
      const { rollouts, problems } = parseRolloutFile(file, text);
      if (problems.length > 0 || rollouts.length === 0) {
        for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
        if (problems.length === 0) process.stderr.write(`${file}: no Rollout in this file\n`);
        process.exitCode = 1;
        return;
      }
      const plans = rollouts.map(({ rollout }) => formatPlan(`${rollout.namespace}/${rollout.name} ${rollout.spec.version}`, planRelease(rollout.spec)));
      process.stdout.write(plans.join("\n"));
    });
}
