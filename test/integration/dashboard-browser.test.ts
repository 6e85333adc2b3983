/**
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core; nothing
 * downloads a browser) against a real release: the page follows the weight without reloading, and
 * an abort from the page (confirmation and reason) sends all traffic back to stable.
 */
import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboard, type Dashboard } from "../../src/dashboard/dashboard.js";
import { authenticatedUser } from "../../src/kube/identity.js";
import { createWorld, type World } from "./release-harness.js";
import { kubeConfig } from "./services.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url).pathname;

let world: World;
let dashboard: Dashboard;
let browser: Browser;
let page: Page;
/** Script errors and refused loads (a CSP violation, a missing module) the page reported. */
const pageErrors: string[] = [];

const card = () => page.locator(`article[data-key="${world.namespace}/reviews"]`);
/** The weight the page shows now, read from the DOM. */
const shownWeight = async () => Number(await card().locator('[role="meter"]').getAttribute("aria-valuenow"));

/** The little of the DOM the waits below use (the tests are compiled without the DOM's types). */
type PageGlobals = { document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null } };

/**
 * Waits, in the page, until `attribute` of `selector` within the Rollout's card is `value`. A
 * function, not a string: the page's Content-Security-Policy refuses eval, and playwright evaluates
 * a string predicate with it.
 */
async function cardShows(selector: string, attribute: string, value: string, timeout = 60_000): Promise<void> {
  const within = `article[data-key="${world.namespace}/reviews"]${selector ? ` ${selector}` : ""}`;
  await page.waitForFunction(
    (wanted) => (globalThis as unknown as PageGlobals).document.querySelector(wanted.within)?.getAttribute(wanted.attribute) === wanted.value,
    { within, attribute, value },
    { timeout },
  );
}

async function screenshot(name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  console.log(`[artifact] ${path}`);
  return path;
}

describe("the dashboard in Chromium, with a release running", () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (scripts/test-deps.sh does), or set CHROMIUM_PATH`);
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    const kc = kubeConfig();
    dashboard = await startDashboard({ kc, host: "127.0.0.1", port: 0, namespace: world.namespace, user: (await authenticatedUser(kc)) ?? "unknown" });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    await page.goto(dashboard.url);
    await card().waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await world?.stop();
  });

  it("shows the weight moving as the release goes, without reloading the page", async () => {
    expect(await card().getAttribute("data-phase")).toBe("Healthy");
    // A mark on this page's window: a reload would start a new window without it.
    await page.evaluate("window.loadedOnce = true");
    await world.release("v2", { steps: ["- setWeight: 20", "- pause: 4s", "- setWeight: 60", "- pause: {}"] });
    await cardShows('[role="meter"]', "aria-valuenow", "20");
    expect(await shownWeight()).toBe(20);
    await cardShows('[role="meter"]', "aria-valuenow", "60");
    expect(await shownWeight()).toBe(60);
    expect(await page.evaluate("window.loadedOnce")).toBe(true);
    // The manual gate is the current step, and a check has been drawn.
    await cardShows("", "data-phase", "Paused");
    expect(await card().locator('li[aria-current="step"]').textContent()).toBe("pause until promoted (manual gate)");
    expect(await card().locator('tr[data-metric="success-rate"] svg[role="img"]').getAttribute("aria-label")).toMatch(/^success-rate over \d+ checks: .*; threshold 0\.95$/);
    expect(await card().locator("[data-part=commit] code").textContent()).toMatch(/^[0-9a-f]{7}$/);
    expect(await card().locator("[data-part=versions]").textContent()).toBe("stable v1 · canary v2 · step 4/4");
    await screenshot("dashboard-release");
  });

  it("reaches its buttons from the keyboard, and a cancelled confirmation writes nothing", async () => {
    await page.locator("#search").focus();
    let focused = "";
    for (let i = 0; i < 30 && focused !== "promote-full"; i++) {
      await page.keyboard.press("Tab");
      focused = String(await page.evaluate('document.activeElement?.getAttribute("data-action") ?? ""'));
    }
    expect(focused).toBe("promote-full");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#confirm").isVisible()).toBe(true);
    expect(await page.locator("#confirm-title").textContent()).toBe("Promote full reviews?");
    await page.keyboard.press("Escape");
    await expect.poll(() => page.locator("#confirm").isVisible()).toBe(false);
    const annotations = (await world.rollouts.get(world.namespace, "reviews")).metadata.annotations ?? {};
    expect(annotations["tideway.io/promote"]).toBeUndefined();
    expect((await world.status())?.phase).toBe("Paused");
  });

  it("aborts from the page after a confirmation with a reason: all traffic back to stable", async () => {
    await card().locator('button[data-action="abort"]').click();
    const dialog = page.locator("#confirm");
    await dialog.waitFor({ state: "visible" });
    expect(await page.locator("#confirm-title").textContent()).toBe("Abort reviews?");
    // No reason, no abort.
    await page.locator("#confirm-ok").click();
    expect(await page.locator("#confirm-error").textContent()).toBe("A reason is needed.");
    await page.locator("#reason").fill("latency up in the dashboard");
    await page.locator("#confirm-ok").click();
    await dialog.waitFor({ state: "hidden" });
    const status = await world.waitForStatus((s) => s.phase === "Aborted" && s.canaryWeight === 0);
    expect(status.history.at(-1)).toMatchObject({ version: "v2", outcome: "aborted", reason: "latency up in the dashboard by tideway-admin" });
    expect(status.commands.at(-1)).toMatchObject({ command: "abort", value: "latency up in the dashboard", user: "tideway-admin", source: "annotation" });
    expect(await world.waitForWeights((w) => w.v1 === 100)).toMatchObject({ v1: 100 });
    await cardShows("", "data-phase", "Aborted");
    expect(await shownWeight()).toBe(0);
    expect(await card().locator('button[data-action="retry"]').isEnabled()).toBe(true);
    expect(await card().locator('button[data-action="abort"]').isEnabled()).toBe(false);
    expect(await card().locator("[data-part=result]").textContent()).toContain('abort sent (tideway.io/abort="latency up in the dashboard" by tideway-admin)');
    await screenshot("dashboard-aborted");
    expect(pageErrors).toEqual([]);
  });
});
