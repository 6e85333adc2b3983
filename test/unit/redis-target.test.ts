import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { controllerOptions } from "../../src/cli/run.js";
import { Secrets } from "../../src/controller/log.js";
import { parseSentinels } from "../../src/queue/redis-target.js";

type Flags = Parameters<typeof controllerOptions>[0];

const flags = (overrides: Partial<Flags>): Flags => ({
  gitUrl: "https://git.example.com/acme/deploys.git",
  gitBranch: "main",
  gitPath: ".",
  gitInterval: "30s",
  gitCacheDir: "/tmp/tideway-test",
  gitSourceName: "default",
  namespace: "tideway",
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

function secretFile(content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "tideway-redis-target-")), "secret");
  writeFileSync(file, `${content}\n`);
  return file;
}

describe("--redis-sentinels", () => {
  it.each([
    [
      "redis-sentinel-0:26379,redis-sentinel-1:26380",
      [
        { host: "redis-sentinel-0", port: 26379 },
        { host: "redis-sentinel-1", port: 26380 },
      ],
    ],
    [
      " a:1 , b ",
      [
        { host: "a", port: 1 },
        { host: "b", port: 26379 },
      ],
    ],
    [
      "[::1]:26379,10.0.0.7",
      [
        { host: "::1", port: 26379 },
        { host: "10.0.0.7", port: 26379 },
      ],
    ],
  ])("reads %j", (text, expected) => {
    expect(parseSentinels(text)).toEqual(expected);
  });

  it.each([
    ["a:0", 'found "a:0"'],
    ["a:99999", 'found "a:99999"'],
    ["a:b:c", 'found "a:b:c"'],
    [",", 'found ","'],
  ])("refuses %j, naming the entry", (text, message) => {
    expect(() => parseSentinels(text)).toThrow(message);
  });

  it("makes a Sentinel target with both passwords from their files, and the log scrubs them", () => {
    const secrets = new Secrets();
    const options = controllerOptions(
      flags({ redisSentinels: "s0:26379,s1:26379,s2:26379", redisSentinelName: "tideway", redisPasswordFile: secretFile("pw-data"), redisSentinelPasswordFile: secretFile("pw-sent") }),
      {},
      secrets,
    );
    expect(options.redis).toEqual({
      sentinels: [
        { host: "s0", port: 26379 },
        { host: "s1", port: 26379 },
        { host: "s2", port: 26379 },
      ],
      name: "tideway",
      password: "pw-data",
      sentinelPassword: "pw-sent",
    });
    expect(secrets.scrub("auth pw-data / pw-sent failed")).toBe("auth *** / *** failed");
  });

  it("takes the passwords from TIDEWAY_REDIS_PASSWORD and TIDEWAY_REDIS_SENTINEL_PASSWORD too", () => {
    const options = controllerOptions(flags({ redisSentinels: "s0" }), { TIDEWAY_REDIS_PASSWORD: "a", TIDEWAY_REDIS_SENTINEL_PASSWORD: "b" }, new Secrets());
    expect(options.redis).toMatchObject({ password: "a", sentinelPassword: "b" });
  });

  it("defaults to the URL redis://127.0.0.1:6379 when neither is given", () => {
    expect(controllerOptions(flags({}), {}, new Secrets()).redis).toEqual({ url: "redis://127.0.0.1:6379" });
  });

  it.each([
    [{ redisSentinels: "s0", redisUrl: "redis://r:6379" }, "--redis-sentinels and --redis-url (or --redis-url-file) both name Redis"],
    [{ redisSentinels: "s0", redisUrlFile: "/nonexistent" }, "--redis-sentinels and --redis-url (or --redis-url-file) both name Redis"],
    [{ redisSentinels: "s0:port" }, '--redis-sentinels: expected host:port (e.g. redis-sentinel-0:26379), found "s0:port"'],
    [{ redisSentinels: "s0", redisSentinelName: " " }, "--redis-sentinel-name: expected the primary's name"],
    [{ redisPasswordFile: "/nonexistent" }, "--redis-password-file: cannot read /nonexistent"],
    [{ redisUrl: "redis://r:6379", redisPasswordFile: secretFile("pw") }, "--redis-password-file and --redis-sentinel-password-file go with --redis-sentinels"],
  ])("refuses %j with a message naming the fix", (overrides, message) => {
    expect(() => controllerOptions(flags(overrides), {}, new Secrets())).toThrow(message);
  });
});
