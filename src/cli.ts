import { Command } from "commander";
import { packageVersion } from "./version.js";

/** Builds the `tideway` command line. Subcommands are added by the features that own them. */
export function buildCli(): Command {
  return new Command("tideway")
    .description("GitOps progressive delivery for Istio: canary releases driven by Rollouts in git")
    .version(packageVersion(), "-V, --version", "print the Tideway version")
    .showHelpAfterError();
}
