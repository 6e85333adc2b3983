/**
 * A problem of the git sync as a Slack post: a bad file with its file:line:column and field, or a
 * commit the signature check refused. Pure. The layout of a bad file is what it always was.
 */
import { shortSha } from "../rollout/commit.js";
import type { SyncEvent } from "../rollout/sync-event.js";
import { code, commitLine, context, escapeText, FALLBACK_TEXT_LIMIT, header, oneLine, section, type SlackBlock, type SlackMessage } from "./slack-blocks.js";

export function syncProblemMessage(event: SyncEvent): SlackMessage {
  const { name, namespace } = event.rollout;
  const blocks: SlackBlock[] =
    event.kind === "invalid"
      ? [header(`:no_entry: ${name}: invalid Rollout in git`), section(escapeText(event.message), [`*Rollout*\n${code(name)} in ${code(namespace)}`]), section(invalidText(event))]
      : [
          header(`:closed_lock_with_key: ${name}: commit not applied, signature not verified`),
          section(escapeText(event.message), [`*Commit*\n${code(shortSha(event.commit.sha))}`]),
          section(`*Why*\n${escapeText(String(event.details["reason"] ?? ""))}\nNothing is applied while this commit is the head of the branch: push a commit signed by an allowed key.`),
        ];
  blocks.push(context([commitLine(event.commit)]));
  return { text: escapeText(oneLine(event.message, FALLBACK_TEXT_LIMIT)), blocks };
}

/** "`rollouts/reviews.yaml:12:7` `spec.steps[1].setWeight`" and the problem, quoted. */
function invalidText(event: SyncEvent): string {
  const { file, line, column, path, message } = event.details;
  const where = file === undefined ? undefined : [file, line, line !== undefined ? column : undefined].filter((p) => p !== undefined).join(":");
  const problem = typeof message === "string" ? message : event.message;
  const location = [where !== undefined ? code(where) : "", path ? code(String(path)) : ""].filter(Boolean).join(" ");
  const quoted = escapeText(problem)
    .split("\n")
    .map((l) => `> ${l}`)
    .join("\n");
  return `${location ? `${location}\n` : ""}${quoted}\nEvery other Rollout is unaffected; fix the file and push.`;
}
