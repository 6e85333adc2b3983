import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { removeDir, tempDir } from "./process.js";

export interface GitRemote {
  /** Path of the bare repository: the "remote" a controller clones and fetches. */
  url: string;
  /** A working clone that tests commit to and push from. */
  workTree: string;
  git: SimpleGit;
  /**
   * Writes (string) or deletes (null) files in the work tree, commits them all and pushes.
   * Returns the new commit's SHA.
   */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  head(): Promise<string>;
  stop(): Promise<void>;
}

/** A bare repository with one working clone on branch `main`, for real simple-git use. */
export async function createGitRemote(options: { branch?: string } = {}): Promise<GitRemote> {
  const branch = options.branch ?? "main";
  const dir = tempDir("git");
  const url = join(dir, "remote.git");
  const workTree = join(dir, "work");
  mkdirSync(url);
  mkdirSync(workTree);
  await simpleGit(url).init(true, ["--initial-branch", branch]);
  const git = simpleGit(workTree);
  await git.init(["--initial-branch", branch]);
  await git.addConfig("user.name", "Tideway Test");
  await git.addConfig("user.email", "test@tideway.invalid");
  await git.addConfig("commit.gpgsign", "false");
  await git.addRemote("origin", url);
  let commits = 0;
  return {
    url,
    workTree,
    git,
    async commit(files, message) {
      for (const [path, content] of Object.entries(files)) {
        const full = join(workTree, path);
        if (content === null) {
          rmSync(full, { force: true });
        } else {
          mkdirSync(dirname(full), { recursive: true });
          writeFileSync(full, content);
        }
      }
      await git.add(["-A", "."]);
      commits += 1;
      await git.commit(message ?? `test commit ${commits}`, undefined, { "--allow-empty": null });
      await git.push("origin", branch);
      return (await git.revparse(["HEAD"])).trim();
    },
    async head() {
      return (await git.revparse(["HEAD"])).trim();
    },
    async stop() {
      removeDir(dir);
    },
  };
}
