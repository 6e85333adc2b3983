/** `tideway validate [paths...]`: the checks the controller makes on git, run before a push. */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { DEFAULT_SCRAPE_INTERVAL } from "../analysis/ranges.js";
import type { RolloutFile } from "../git/tree.js";
import { parseDuration } from "../rollout/duration.js";
import { formatProblem, formatWarning, type Problem } from "../rollout/problem.js";
import { workloadWarnings } from "../rollout/workload.js";

export interface ValidateIo {
  /** Paths are resolved from here, and printed relative to it as the user typed them. */
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo = (): ValidateIo => ({
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});

export interface ValidateOptions {
  /** Prometheus' scrape interval: a custom query's range should cover two scrapes of it. */
  scrapeIntervalMs: number;
}

const DEFAULT_OPTIONS: ValidateOptions = { scrapeIntervalMs: parseDuration(DEFAULT_SCRAPE_INTERVAL) ?? 15_000 };

/**
 * Validates the Rollouts under `paths`; returns the exit code: 1 when there is any problem.
 * Warnings (a Rollout that is valid but will not work as meant) are printed and leave it at 0.
 */
export async function validate(paths: readonly string[], io: ValidateIo = processIo(), options: ValidateOptions = DEFAULT_OPTIONS): Promise<number> {
  // The YAML parser is loaded by the commands that parse, not for every start of the CLI.
  const [{ readRolloutTree }, { parseRolloutFiles }, { renderPath }, { customQueryWarnings }] = await Promise.all([
    import("../git/tree.js"),
    import("../rollout/parse.js"),
    import("../rollout/parse-positions.js"),
    import("../analysis/templates.js"),
  ]);
  const files: RolloutFile[] = [];
  const problems: Problem[] = [];
  const read = new Set<string>();
  for (const typed of paths.length > 0 ? paths : ["."]) {
    const absolute = path.resolve(io.cwd, typed);
    const root = repositoryRoot(absolute);
    // Shown as typed: relative paths stay relative to the current directory, absolute ones absolute.
    const shown = (file: string) => {
      const full = path.resolve(root, file);
      return path.isAbsolute(typed) ? full : path.relative(io.cwd, full) || ".";
    };
    const tree = await readRolloutTree(root, [path.relative(root, absolute) || "."]);
    for (const file of tree.files) {
      const full = path.resolve(root, file.path);
      if (read.has(full)) continue;
      read.add(full);
      files.push({ path: shown(file.path), text: file.text });
    }
    problems.push(...tree.problems.map((problem) => ({ ...problem, file: shown(problem.file) })));
  }
  const parsed = parseRolloutFiles(files, { locate: true });
  problems.push(...parsed.problems);
  const warnings = parsed.rollouts.flatMap(({ file, rollout, locate }) =>
    [...customQueryWarnings(rollout.spec, options.scrapeIntervalMs), ...workloadWarnings(rollout)].map(({ path: field, message }) => ({
      file,
      ...(locate?.(field) ?? { line: 1, column: 1 }),
      path: renderPath(field),
      message,
    })),
  );
  for (const problem of problems) io.stderr(`${formatProblem(problem)}\n`);
  for (const warning of warnings) io.stderr(`${formatWarning(warning)}\n`);
  const warned = warnings.length > 0 ? `, ${count(warnings.length, "warning")}` : "";
  io.stdout(`${count(files.length, "file")}, ${count(parsed.rollouts.length, "Rollout")}, ${count(problems.length, "problem")}${warned}\n`);
  return problems.length > 0 ? 1 : 0;
}

/**
 * The git work tree holding `start` (symlinks may point anywhere inside it), or, outside git,
 * the directory given (or the file's directory).
 */
function repositoryRoot(start: string): string {
  const isDirectory = statSync(start, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const first = isDirectory ? start : path.dirname(start);
  for (let dir = first; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, ".git"))) return dir;
    if (path.dirname(dir) === dir) return first;
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export function registerValidateCommand(program: Command): void {
  program
    .command("validate")
    .description("check the Rollouts in files or directories as the controller would, with file:line:column errors")
    .argument("[paths...]", "YAML files or directories to check (default: the current directory)")
    .option("--scrape-interval <duration>", "Prometheus' scrape interval: warn about custom queries whose range covers fewer than 2 scrapes", DEFAULT_SCRAPE_INTERVAL)
    .action(async (paths: string[], flags: { scrapeInterval: string }, command: Command) => {
      const scrapeIntervalMs = parseDuration(flags.scrapeInterval);
      if (scrapeIntervalMs === undefined || scrapeIntervalMs <= 0) {
        command.error(`tideway validate: --scrape-interval: expected a duration such as "15s" or "1m", found "${flags.scrapeInterval}"`, { exitCode: 2 });
      }
      process.exitCode = await validate(paths, processIo(), { scrapeIntervalMs });
    });
}
