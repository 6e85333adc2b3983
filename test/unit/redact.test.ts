import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { controllerOptions } from "../../src/cli/run.js";
import { Secrets } from "../../src/controller/log.js";
import { gitCredentials } from "../../src/git/credentials.js";
import { redact, userNameSecrets } from "../../src/secrets/redact.js";

describe("redact", () => {
  it.each([
    { case: "a secret, wherever it appears", text: "token tok-abcdef refused; retry tok-abcdef", secrets: ["tok-abcdef"], expected: "token *** refused; retry ***" },
    {
      case: "user:password in a URL, even one not listed",
      text: "cannot reach https://deploy:pw@git.example.com/acme.git",
      secrets: [],
      expected: "cannot reach https://***@git.example.com/acme.git",
    },
    { case: "a token alone in a URL", text: "redis://s3cret@redis:6379 down", secrets: [], expected: "redis://***@redis:6379 down" },
    { case: "a 3-character Redis password", text: "NOAUTH abc rejected", secrets: ["abc"], expected: "NOAUTH *** rejected" },
    { case: "a 1-character secret", text: "key=x", secrets: ["x"], expected: "key=***" },
    { case: "the longer of two overlapping secrets whole", text: "Authorization: Bearer abcd1234", secrets: ["abcd", "Bearer abcd1234"], expected: "Authorization: ***" },
    { case: "nothing for an empty secret", text: "plain text", secrets: [""], expected: "plain text" },
    { case: "a URL without userinfo as it is", text: "fetching https://git.example.com/acme.git", secrets: [], expected: "fetching https://git.example.com/acme.git" },
  ])("scrubs $case", ({ text, secrets, expected }) => {
    expect(redact(text, secrets)).toBe(expected);
  });

  it("scrubs a user name only from 4 characters, so 'git' stays an ordinary word", () => {
    expect(userNameSecrets("git")).toEqual([]);
    expect(userNameSecrets("deploy-bot")).toEqual(["deploy-bot"]);
    expect(userNameSecrets(undefined)).toEqual([]);
  });
});

describe("the secrets each adapter scrubs", () => {
  const flags = (overrides: Partial<Parameters<typeof controllerOptions>[0]>): Parameters<typeof controllerOptions>[0] => ({
    gitUrl: "https://git.example.com/acme/deploys.git",
    gitBranch: "main",
    gitPath: ".",
    gitInterval: "30s",
    gitCacheDir: "/tmp/tideway-test",
    gitSourceName: "default",
    namespace: "tideway",
    redisUrl: "redis://localhost:6379",
    redisSentinelName: "mymaster",
    queuePrefix: "tideway",
    listen: ":8080",
    httpMaxConnections: "256",
    logLevel: "info",
    resyncInterval: "5m",
    prometheusUrl: "http://prometheus:9090",
    prometheusHeader: [],
    prometheusTimeout: "10s",
    prometheusScrapeInterval: "15s",
    notifyMaxBackoff: "60s",
    ...overrides,
  });

  it("the log scrubs a 3-character Redis password, and a short git user name stays readable", () => {
    const secrets = new Secrets();
    controllerOptions(flags({ redisUrl: "redis://:abc@redis:6379", gitUrl: "https://git:pw1@git.example.com/acme.git" }), {}, secrets);
    expect(secrets.scrub("redis said: invalid password abc")).toBe("redis said: invalid password ***");
    expect(secrets.scrub("git sync failed: pw1 refused")).toBe("git sync failed: *** refused");
  });

  it("the log scrubs a short Prometheus bearer token and a git token of any length", () => {
    const secrets = new Secrets();
    controllerOptions(flags({ prometheusHeader: ["Authorization: Bearer t0k"] }), { TIDEWAY_GIT_TOKEN: "gh1" }, secrets);
    expect(secrets.scrub("401 for Bearer t0k; token gh1")).toBe("401 for ***; token ***");
  });

  it("the log scrubs the Slack signing secret, from its file or the environment, and the buttons follow it", () => {
    const dir = mkdtempSync(join(tmpdir(), "tideway-signing-"));
    try {
      const file = join(dir, "secret");
      writeFileSync(file, "8f14e45fceea167a5a36dedd4bea2543\n");
      const secrets = new Secrets();
      const options = controllerOptions(flags({ slackSigningSecretFile: file }), { TIDEWAY_SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/xyz" }, secrets);
      expect(options.notify.slack).toMatchObject({ signingSecret: "8f14e45fceea167a5a36dedd4bea2543" });
      expect(secrets.scrub("signed with 8f14e45fceea167a5a36dedd4bea2543")).toBe("signed with ***");
      const fromEnv = new Secrets();
      controllerOptions(flags({}), { TIDEWAY_SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/xyz", TIDEWAY_SLACK_SIGNING_SECRET: "s1g" }, fromEnv);
      expect(fromEnv.scrub("s1g")).toBe("***");
      expect(controllerOptions(flags({}), { TIDEWAY_SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/xyz" }, new Secrets()).notify.slack?.signingSecret).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [
      "without a webhook URL",
      {},
      "--slack-signing-secret-file (or TIDEWAY_SLACK_SIGNING_SECRET) needs --slack-webhook-url-file (or TIDEWAY_SLACK_WEBHOOK_URL): the buttons go on the messages posted there",
    ],
    [
      "from an empty file",
      { TIDEWAY_SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/xyz" },
      "--slack-signing-secret-file: the file is empty; copy the signing secret from the Slack app's Basic Information page",
    ],
  ])("a Slack signing secret %s is refused with the fix", (_, env, message) => {
    const dir = mkdtempSync(join(tmpdir(), "tideway-signing-"));
    try {
      const file = join(dir, "secret");
      writeFileSync(file, Object.keys(env).length > 0 ? "\n" : "s3cret");
      expect(() => controllerOptions(flags({ slackSigningSecretFile: file }), env, new Secrets())).toThrow(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a Slack signing secret file that cannot be read is named, never its content", () => {
    expect(() => controllerOptions(flags({ slackSigningSecretFile: "/nonexistent/signing-secret" }), {}, new Secrets())).toThrow(
      "--slack-signing-secret-file: cannot read /nonexistent/signing-secret",
    );
  });

  it("git lists a short token, a URL's password and a long user name, but not a short user name", () => {
    expect(gitCredentials("https://abc@git.example.com/acme.git", {}).secrets).toContain("abc");
    const named = gitCredentials("https://deploy-bot:pw1@git.example.com/acme.git", {}).secrets;
    expect(named).toEqual(expect.arrayContaining(["pw1", "deploy-bot"]));
    expect(gitCredentials("https://git:pw1@git.example.com/acme.git", {}).secrets).not.toContain("git");
  });
});
