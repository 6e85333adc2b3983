import { describe, expect, it } from "vitest";
import { gitCredentials } from "../../src/git/credentials.js";

describe("git credentials", () => {
  it("puts a token in a header through GIT_CONFIG_*, lifts only that guard, and leaves the URL clean", () => {
    const credentials = gitCredentials("https://deploy:pw-1234@git.example.com/acme/deploys.git", { token: "tok-abcdef" });
    expect(credentials.url).toBe("https://git.example.com/acme/deploys.git");
    expect(credentials.env.GIT_CONFIG_KEY_0).toBe("http.extraHeader");
    expect(credentials.env.GIT_CONFIG_VALUE_0).toBe(`Authorization: Basic ${Buffer.from("deploy:tok-abcdef").toString("base64")}`);
    expect(credentials.unsafe).toEqual({ allowUnsafeConfigEnvCount: true });
    expect(credentials.secrets).toContain("tok-abcdef");
  });

  it("lifts no guard without credentials", () => {
    expect(gitCredentials("https://git.example.com/acme/deploys.git", {}).unsafe).toEqual({});
  });
});
