import { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { controllerOptions, registerRunCommand } from "../../src/cli/run.js";
import { Secrets } from "../../src/controller/log.js";

type RunFlags = Parameters<typeof controllerOptions>[0];

/** The flags `tideway run` parses from `args` and `env`, without running the controller. */
async function runFlags(args: string[], env: Record<string, string> = {}): Promise<RunFlags> {
  Object.assign(process.env, env);
  const program = new Command().exitOverride();
  registerRunCommand(program);
  let seen: RunFlags | undefined;
  program.hook("preAction", (_program, action) => {
    seen = action.opts<RunFlags>();
    throw new Error("parsed");
  });
  await program.parseAsync(["node", "tideway", "run", "--git-url", "https://git.example.com/acme/deploys.git", ...args]).catch((error: unknown) => {
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
    ["nothing", [], {}, undefined],
    [
      "--dashboard with two --dashboard-allow-host",
      ["--dashboard", "--dashboard-allow-host", "a.example", "--dashboard-allow-host", "b.example:443"],
      {},
      { allowHosts: ["a.example", "b.example:443"] },
    ],
    ["their environment variables", [], { TIDEWAY_DASHBOARD: "true", TIDEWAY_DASHBOARD_ALLOW_HOSTS: "a.example, b.example" }, { allowHosts: ["a.example", "b.example"] }],
  ])("are read from %s", async (_case, args, env, expected) => {
    expect(controllerOptions(await runFlags(args, env), process.env, new Secrets()).dashboard).toEqual(expected);
  });

  it("refuses TIDEWAY_DASHBOARD=false rather than serving the page", async () => {
    const flags = await runFlags([], { TIDEWAY_DASHBOARD: "false" });
    expect(() => controllerOptions(flags, process.env, new Secrets())).toThrow('TIDEWAY_DASHBOARD: expected "true" to serve the dashboard, found "false"; unset it to keep the dashboard off');
  });
});
