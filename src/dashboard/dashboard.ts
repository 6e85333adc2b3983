/**
 * The dashboard put together: watches -> board -> HTTP. `tideway dashboard` and the demo serve it on
 * a port of its own; the controller (`tideway run --dashboard`) serves its handler on its HTTP port.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { AccessReviews } from "../kube/access-review.js";
import { RolloutClient, type RolloutStore } from "../kube/rollouts.js";
import { tokenAccess } from "./access.js";
import { loadAssets } from "./assets.js";
import { Board } from "./board.js";
import { DashboardFeed } from "./feed.js";
import { createDashboardHandler, startDashboardServer, type DashboardHandler } from "./server.js";

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

export interface ServedDashboard {
  handler: DashboardHandler;
  close(): Promise<void>;
}

/**
 * The controller's dashboard: every Rollout, read with the controller's own rights; a button acts
 * only for a bearer token the API server accepts and whose user may patch that Rollout.
 */
export async function startServedDashboard(options: { kc: KubeConfig; rollouts: RolloutStore; log: (line: string) => void }): Promise<ServedDashboard> {
  const assets = loadAssets();
  const board = new Board();
  const feed = new DashboardFeed(options.kc, board);
  await feed.start();
  const handler = createDashboardHandler({ board, assets, access: tokenAccess(new AccessReviews(options.kc), options.rollouts), log: options.log });
  return {
    handler,
    close: async () => {
      handler.close();
      await feed.stop();
    },
  };
}
