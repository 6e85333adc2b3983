/** The dashboard put together: watches -> board -> HTTP server. Used by `tideway dashboard` and the demo. */
import type { KubeConfig } from "@kubernetes/client-node";
import { RolloutClient } from "../kube/rollouts.js";
import { loadAssets } from "./assets.js";
import { Board } from "./board.js";
import { DashboardFeed } from "./feed.js";
import { startDashboardServer } from "./server.js";

export interface DashboardOptions {
  kc: KubeConfig;
  host: string;
  port: number;
  /** Only this namespace's Rollouts; every namespace when undefined. */
  namespace?: string;
  /** Recorded as `tideway.io/by` with each command. */
  user: string;
  allowHosts?: string[];
  log?: (line: string) => void;
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const assets = loadAssets();
  const board = new Board();
  const feed = new DashboardFeed(options.kc, board, options.namespace !== undefined ? { namespace: options.namespace } : {});
  await feed.start();
  const server = await startDashboardServer({
    host: options.host,
    port: options.port,
    board,
    assets,
    rollouts: new RolloutClient(options.kc),
    user: options.user,
    ...(options.allowHosts ? { allowHosts: options.allowHosts } : {}),
    log: options.log ?? (() => undefined),
  }).catch(async (error: unknown) => {
    await feed.stop(); // the port is taken, say: no watches left behind
    throw error;
  });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await feed.stop();
    },
  };
}
