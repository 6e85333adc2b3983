/** Where the Slack incoming-webhook URL comes from: a mounted Secret file, or an environment variable. */
import { readFileSync } from "node:fs";

/**
 * The URL from `file` (the Helm chart mounts the Secret as one) or else from `env` (the variable's
 * value); undefined when neither is set. Errors name the file, never the URL: it is a secret.
 */
export function loadSlackWebhookUrl(source: { file?: string; env?: string }): string | undefined {
  let url: string | undefined;
  let from = "the environment";
  if (source.file) {
    from = source.file;
    try {
      url = readFileSync(source.file, "utf8").trim();
    } catch {
      throw new Error(`Slack webhook URL: cannot read ${source.file}; mount the Secret there or unset the option`);
    }
    if (url === "") throw new Error(`Slack webhook URL: ${source.file} is empty`);
  } else {
    url = source.env?.trim() || undefined;
  }
  if (url === undefined) return undefined;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new Error(`Slack webhook URL from ${from} is not a URL; expected https://hooks.slack.com/services/...`);
  }
  if (protocol !== "https:" && protocol !== "http:") {
    throw new Error(`Slack webhook URL from ${from} must be http(s), found ${protocol}`);
  }
  return url;
}
