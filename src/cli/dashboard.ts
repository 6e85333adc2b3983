/**
 * `tideway dashboard`: a live page over the Rollouts, served on this machine with the user's own
 * kubeconfig (what the page shows and what its buttons do is what that user's RBAC allows).
 * client-node is imported when the command runs, like the other commands that talk to the cluster.
 */
import type { Command } from "commander";
import { parseListen } from "../http/server.js";
import { loginName } from "./control.js";

interface DashboardFlags {
  listen: string;
  namespace?: string;
  kubeconfig?: string;
  by?: string;
  allowHost: string[];
}

export function registerDashboardCommand(program: Command): void {
  program
    .command("dashboard")
    .description("serve a live page of every Rollout with promote, pause, resume, retry and abort buttons")
    .option("--listen <host:port>", "where to serve it (loopback only unless told otherwise)", "127.0.0.1:3100")
    .option("-n, --namespace <ns>", "only this namespace's Rollouts (default: every namespace)")
    .option("--kubeconfig <file>", "kubeconfig file")
    .option("--by <name>", "who is acting, recorded with each command (default: the user the API server knows you as)")
    .option("--allow-host <name>", "also answer requests for this Host name (repeatable), e.g. behind a port-forward", (value: string, all: string[]) => [...all, value], [])
    .action(async (flags: DashboardFlags) => {
      const [host, port] = parseListen(flags.listen);
      const [{ loadKubeConfig }, { authenticatedUser }, { startDashboard }] = await Promise.all([import("../kube/config.js"), import("../kube/identity.js"), import("../dashboard/dashboard.js")]);
      const kc = loadKubeConfig(flags.kubeconfig);
      const user = flags.by ?? (await authenticatedUser(kc)) ?? loginName() ?? "unknown";
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const dashboard = await startDashboard({ kc, host, port, user, allowHosts: flags.allowHost, log, ...(flags.namespace ? { namespace: flags.namespace } : {}) });
      process.stdout.write(
        `Tideway dashboard: ${dashboard.url} (Rollouts in ${flags.namespace ? `namespace ${flags.namespace}` : "every namespace"}; commands recorded as ${JSON.stringify(user)}). Ctrl-C to stop.\n`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await dashboard.close();
    });
}
