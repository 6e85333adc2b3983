/**
 * The controller's dashboard in Chromium (Debian's, headless, driven by playwright-core): the page
 * is read-only until given a bearer token; a token whose ServiceAccount may only read Rollouts gets
 * the API server's refusal on the card; one that may patch aborts the release, recorded as it.
 */
import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorld, type World } from "./release-harness.js";
import { serviceAccountToken } from "./service-accounts.js";
import { kubeConfig } from "./services.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url).pathname;

let world: World;
let browser: Browser;
let page: Page;
const tokens: Record<string, string> = {};
const pageErrors: string[] = [];

const card = () => page.locator(`article[data-key="${world.namespace}/reviews"]`);

async function giveToken(token: string): Promise<void> {
  await page.locator("#bearer-token").fill(token);
  await page.locator("#access button[type=submit]").click();
}

async function abortFromPage(reason: string): Promise<void> {
  await card().locator('button[data-action="abort"]').click();
  await page.locator("#confirm").waitFor({ state: "visible" });
  await page.locator("#reason").fill(reason);
  await page.locator("#confirm-ok").click();
}

describe("the controller's dashboard in Chromium", () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (scripts/test-deps.sh does), or set CHROMIUM_PATH`);
    world = await createWorld({ controllerArgs: ["--dashboard"] });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    const admin = kubeConfig();
    tokens.reader = await serviceAccountToken(admin, world.namespace, "reader", ["get", "list", "watch"]);
    tokens.operator = await serviceAccountToken(admin, world.namespace, "operator", ["get", "patch"]);
    await world.release("v2", { steps: ["- setWeight: 20", "- pause: {}"] });
    await world.waitForStatus((s) => s.phase === "Paused");
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      // The reader's refusal is an HTTP 403 the browser reports on the console: expected.
      if (message.type() === "error" && !/status of 403/.test(message.text())) pageErrors.push(message.text());
    });
    await page.goto(world.controller.url);
    await card().waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await world?.stop();
  });

  it("shows the release read-only, its buttons off, until given a bearer token", async () => {
    await expect.poll(() => page.locator("#user").textContent()).toBe("read-only: give a bearer token to use the buttons");
    expect(await page.locator("#access").isVisible()).toBe(true);
    await expect.poll(() => card().getAttribute("data-phase")).toBe("Paused");
    for (const action of ["promote", "promote-full", "abort"]) expect(await card().locator(`button[data-action="${action}"]`).isEnabled()).toBe(false);
  });

  it("shows the API server's refusal for a ServiceAccount that may only read, and writes nothing", async () => {
    await giveToken(tokens.reader ?? "");
    expect(await page.locator("#bearer-token").inputValue()).toBe("");
    await expect.poll(() => card().locator('button[data-action="abort"]').isEnabled()).toBe(true);
    await abortFromPage("from the reader");
    await expect.poll(() => page.locator("#confirm-error").textContent()).toMatch(new RegExp(`^system:serviceaccount:${world.namespace}:reader may not abort`));
    await page.locator("#confirm-cancel").click();
    expect((await world.rollouts.get(world.namespace, "reviews")).metadata.annotations?.["tideway.io/abort"]).toBeUndefined();
    expect((await world.status())?.phase).toBe("Paused");
  });

  it("aborts with the token of a ServiceAccount that may patch the Rollout, recorded as it", async () => {
    await page.locator("#bearer-forget").click();
    await expect.poll(() => card().locator('button[data-action="abort"]').isEnabled()).toBe(false);
    await giveToken(tokens.operator ?? "");
    await abortFromPage("latency up");
    const user = `system:serviceaccount:${world.namespace}:operator`;
    const status = await world.waitForStatus((s) => s.phase === "Aborted" && s.canaryWeight === 0);
    expect(status.commands.at(-1)).toMatchObject({ command: "abort", value: "latency up", user });
    await expect.poll(() => card().getAttribute("data-phase")).toBe("Aborted");
    expect(await card().locator("[data-part=result]").textContent()).toContain(`by ${user})`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-controller-aborted.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
