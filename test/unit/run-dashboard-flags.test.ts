import { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { registerRunCommand } from "../../src/cli/run.js";

/** The dashboard flags `tideway run` parses from `args` and `env`, without running the controller. */
async function dashboardFlags(args: string[], env: Record<string, string> = {}): Promise<{ dashboard: unknown; hosts: unknown }> {
  Object.assign(process.env, env);
  const program = new Command().exitOverride();
  registerRunCommand(program);
  let seen: { dashboard: unknown; hosts: unknown } | undefined;
  program.hook("preAction", (_program, action) => {
    const options = action.opts<{ dashboard?: boolean; dashboardAllowHost?: string[] }>();
    seen = { dashboard: options.dashboard, hosts: options.dashboardAllowHost };
    throw new Error("parsed");
  });
  await program.parseAsync(["node", "tideway", "run", ...args]).catch((error: unknown) => {
    if (!(error instanceof Error) || error.message !== "parsed") throw error;
  });
  if (!seen) throw new Error("no action reached");
  return seen;
}

afterEach(() => {
  delete process.env.TIDEWAY_DASHBOARD;
  delete process.env.TIDEWAY_DASHBOARD_ALLOW_HOSTS;
});

describe("tideway run's dashboard flags", () => {
  it.each([
    ["nothing", [], {}, { dashboard: false, hosts: [] }],
    [
      "--dashboard with two --dashboard-allow-host",
      ["--dashboard", "--dashboard-allow-host", "a.example", "--dashboard-allow-host", "b.example:443"],
      {},
      { dashboard: true, hosts: ["a.example", "b.example:443"] },
    ],
    ["their environment variables", [], { TIDEWAY_DASHBOARD: "true", TIDEWAY_DASHBOARD_ALLOW_HOSTS: "a.example, b.example" }, { dashboard: true, hosts: ["a.example", "b.example"] }],
  ])("are read from %s", async (_case, args, env, expected) => {
    expect(await dashboardFlags(args, env)).toEqual(expected);
  });
});
