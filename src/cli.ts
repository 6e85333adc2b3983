import { Command } from "commander";
import { registerControlCommands } from "./cli/control.js";
import { registerDashboardCommand } from "./cli/dashboard.js";
import { registerPlanCommand } from "./cli/plan.js";
import { registerRunCommand } from "./cli/run.js";
import { registerValidateCommand } from "./cli/validate.js";
import { packageVersion } from "./version.js";

/** Builds the `tideway` command line. Subcommands are added by the features that own them. */
export function buildCli(): Command {
  const program = new Command("tideway")
    .description("GitOps progressive delivery for Istio: canary releases driven by Rollouts in git")
    .version(packageVersion(), "-V, --version", "print the Tideway version")
    .showHelpAfterError();
  registerPlanCommand(program);
  registerValidateCommand(program);
  registerRunCommand(program);
  registerControlCommands(program);
  registerDashboardCommand(program);
  return program;
}
