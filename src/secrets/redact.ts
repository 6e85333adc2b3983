/**
 * Secrets kept out of what people see (logs, Events, status, Slack): every adapter that holds a
 * credential scrubs its text with this one function, so all give the same guarantees.
 */

export const REDACTED = "***";

/** `scheme://user:password@` (or `scheme://token@`): whatever sits before the "@". */
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi;

/** Shorter user names are not scrubbed: "git" or "x" would turn ordinary words into "***". */
const SHORTEST_SCRUBBED_NAME = 4;

/**
 * Replaces every secret, and the userinfo of every URL, with "***". A secret is scrubbed whatever
 * its length (a 3-character Redis password too): one the operator configured is never shown, even
 * if scrubbing it mangles ordinary words; that is the nudge to choose a longer one. Longer secrets
 * go first, so one that contains another leaves no tail behind.
 */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text.replace(URL_USERINFO, `$1${REDACTED}@`);
  for (const secret of longestFirst(secrets)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * A user name is not a secret, but it names whose credential this is: scrubbed when it is long
 * enough not to be an ordinary word. Returns the values to add to a secret list.
 */
export function userNameSecrets(name: string | undefined): string[] {
  return name !== undefined && name.length >= SHORTEST_SCRUBBED_NAME ? [name] : [];
}

function longestFirst(secrets: Iterable<string>): string[] {
  return [...new Set(secrets)].filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length);
}
