/**
 * `tideway status` and the manual-control commands. Each command writes the same annotation a
 * person would write with kubectl, so every path goes through the controller the same way.
 */
import type { Command } from "commander";
import type { KubeConfig } from "@kubernetes/client-node";
import { userInfo } from "node:os";
import type { RolloutClient, RolloutObject } from "../kube/rollouts.js";
import { awaitCommandResult, giveCommand, type CommandRequest } from "../kube/commands.js";
import { commandAnnotation } from "../rollout/annotations.js";
import { COMMANDS, RolloutStatusSchema, type CommandName, type RolloutStatus } from "../rollout/status.js";

export interface ControlIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  kubeConfig: (path?: string) => Promise<KubeConfig>;
  sleep: (ms: number) => Promise<void>;
}

// client-node (tens of MB, most of a second to load) is imported only by a command that talks to the cluster.
const processIo: ControlIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  kubeConfig: async (path) => (await import("../kube/config.js")).loadKubeConfig(path),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

async function connect(io: ControlIo, kubeconfig: string | undefined): Promise<{ kc: KubeConfig; client: RolloutClient }> {
  const [kc, { RolloutClient }] = await Promise.all([io.kubeConfig(kubeconfig), import("../kube/rollouts.js")]);
  return { kc, client: new RolloutClient(kc) };
}

interface TargetFlags {
  namespace?: string;
  kubeconfig?: string;
}

function defaultNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
}

function statusOf(object: RolloutObject): RolloutStatus | undefined {
  const parsed = RolloutStatusSchema.safeParse(object.status);
  return parsed.success ? parsed.data : undefined;
}

/** An analysis run this late has not come back: Prometheus is slow or not answering. */
const OVERDUE_MS = 15_000;

/**
 * The last analysis of the release in flight: "success-rate 0.998 (pass)", the reason when it did
 * not pass, and a run that is overdue (status cannot say so: nothing is written while it hangs).
 */
export function lastAnalysis(status: RolloutStatus | undefined, now: number): string {
  const release = status?.release;
  const metrics = release?.metrics ?? [];
  const results = metrics
    .filter((m) => m.lastOutcome)
    .map((m) => (m.lastOutcome === "pass" && !m.evidence ? `${m.name} ${m.lastValue ?? "-"} (pass)` : `${m.name} ${m.lastValue ?? "-"} (${m.lastOutcome ?? ""}: ${m.lastMessage ?? ""})`));
  const due = release?.nextAnalysisAt !== undefined && status?.phase === "Progressing" ? Date.parse(release.nextAnalysisAt) : undefined;
  if (due !== undefined && now - due > OVERDUE_MS) results.push(`next check ${Math.round((now - due) / 1_000)}s overdue: analysis slow`);
  return results.join(", ");
}

/** Ready pods per version as the readiness gate last saw them: "v1 3/3, v2 0/3". */
export function readyPods(status: RolloutStatus | undefined): string {
  return (status?.readiness ?? []).map((r) => `${r.version} ${r.ready}/${r.total}`).join(", ");
}

export function statusTable(objects: RolloutObject[], allNamespaces: boolean, now = Date.now()): string {
  const header = [...(allNamespaces ? ["NAMESPACE"] : []), "NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "READY", "STEP", "LAST ANALYSIS", "MESSAGE"];
  const rows = objects.map((object) => {
    const status = statusOf(object);
    return [
      ...(allNamespaces ? [object.metadata.namespace] : []),
      object.metadata.name,
      status?.phase ?? "Pending",
      status?.stableVersion ?? "",
      status?.canaryVersion ?? "",
      status ? String(status.canaryWeight) : "",
      readyPods(status),
      status?.step ?? "",
      lastAnalysis(status, now),
      status?.message ?? "",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function registerControlCommands(program: Command, io: ControlIo = processIo): void {
  program
    .command("status [name]")
    .description("show Rollouts: phase, versions, weight, step and last analysis")
    .option("-n, --namespace <ns>", "namespace (default: the kubeconfig context's)")
    .option("-A, --all-namespaces", "Rollouts in every namespace")
    .option("-w, --watch", "keep printing as they change")
    .option("-o, --output <format>", "table or json", "table")
    .option("--kubeconfig <file>", "kubeconfig file")
    .action(async (name: string | undefined, flags: TargetFlags & { allNamespaces?: boolean; watch?: boolean; output: string }) => {
      const { kc, client } = await connect(io, flags.kubeconfig);
      const namespace = flags.namespace ?? defaultNamespace(kc);
      const read = async (): Promise<RolloutObject[]> => {
        if (name) return [await client.get(namespace, name)];
        const all = await client.list();
        return (flags.allNamespaces ? all : all.filter((o) => o.metadata.namespace === namespace)).sort((a, b) =>
          `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
        );
      };
      const render = (objects: RolloutObject[]) =>
        flags.output === "json"
          ? `${JSON.stringify(
              objects.map((o) => ({ name: o.metadata.name, namespace: o.metadata.namespace, status: o.status ?? null })),
              null,
              2,
            )}\n`
          : statusTable(objects, flags.allNamespaces === true);
      let last = "";
      for (;;) {
        const text = render(await read());
        if (text !== last) io.stdout(last === "" ? text : `\n${text}`);
        last = text;
        if (!flags.watch) return;
        await io.sleep(1_000);
      }
    });

  for (const command of COMMANDS) {
    const sub = program
      .command(`${command} <name>`)
      .description(describe(command))
      .option("-n, --namespace <ns>", "namespace (default: the kubeconfig context's)")
      .option("--kubeconfig <file>", "kubeconfig file")
      .option("--no-wait", "do not wait for the controller to acknowledge it")
      .option("--timeout <seconds>", "how long to wait for the acknowledgement", "15")
      .option("--by <name>", "who is asking, recorded with the command (default: your login name)");
    if (command === "abort" || command === "pause") sub.option("--reason <text>", "why (recorded in status and posted to Slack)");
    if (command === "promote") sub.option("--full", "promote all the way at once instead of completing the current step");
    sub.action(async (name: string, flags: TargetFlags & { reason?: string; full?: boolean; wait: boolean; timeout: string; by?: string }) => {
      const { kc, client } = await connect(io, flags.kubeconfig);
      const namespace = flags.namespace ?? defaultNamespace(kc);
      const value = commandValue(command, flags);
      const by = flags.by ?? loginName();
      const code = await sendCommand(client, io, { namespace, name, command, value, ...(by ? { by } : {}), wait: flags.wait, timeoutMs: Number(flags.timeout) * 1000 });
      if (code !== 0) process.exitCode = code;
    });
  }
}

export function loginName(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined; // no passwd entry (a container with an arbitrary uid)
  }
}

function describe(command: CommandName): string {
  return {
    abort: "send all traffic back to stable and mark the release aborted",
    promote: "complete the current step (or, with --full, promote at once)",
    pause: "hold the release where it is",
    resume: "continue a paused release",
    retry: "start a rolled-back or aborted version again",
  }[command];
}

/** The annotation's value: promote's "step" or "full", or the reason of an abort or a pause. */
export function commandValue(command: CommandName, options: { full?: boolean; reason?: string }): string {
  if (command === "promote") return options.full ? "full" : "step";
  return options.reason ?? (command === "abort" ? "aborted with the tideway CLI" : "");
}

/** Writes `tideway.io/<command>` and waits until the controller records and removes it. */
export async function sendCommand(client: RolloutClient, io: ControlIo, request: CommandRequest & { wait: boolean; timeoutMs: number }): Promise<number> {
  const { namespace, name, command, value } = request;
  const given = await giveCommand(client, { namespace, name, command, value, ...(request.by !== undefined ? { by: request.by } : {}) });
  io.stdout(`${namespace}/${name}: ${commandAnnotation(command)}=${JSON.stringify(value)} written\n`);
  if (!request.wait) return 0;
  const recorded = await awaitCommandResult(client, given, request.timeoutMs, io.sleep);
  if (recorded) {
    io.stdout(`${namespace}/${name}: ${recorded.result}\n`);
    return recorded.result.startsWith("ignored") ? 1 : 0;
  }
  io.stderr(`${namespace}/${name}: not acknowledged within ${request.timeoutMs / 1000}s; is the controller running?\n`);
  return 1;
}
