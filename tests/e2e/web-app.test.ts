// The PWA in a real browser (Debian's Chromium through playwright-core) against the real system.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSystem, type TestSystem } from "@tessera/platform/testing";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let system: TestSystem;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (npm test installs Debian's chromium)`);
  system = await startTestSystem();
  browser = await chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => {
  await browser?.close();
  await system?.stopAll();
});

describe("web app", () => {
  it("registers, shows who you are, signs out and back in, with no token readable by page scripts", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const suffix = Date.now().toString(36);
    await page.goto(`${system.baseUrl}/register`);
    await page.getByLabel("Email", { exact: true }).fill(`web${suffix}@example.com`);
    await page.getByLabel("Username", { exact: true }).fill(`web${suffix}`);
    await page.getByLabel("Password", { exact: true }).fill("a browser made this passphrase");
    await page.getByTestId("register-submit").click();
    await page.getByTestId("new-chat").waitFor({ timeout: 15_000 });
    await page.getByTestId("nav-settings").click();
    await expect.poll(() => page.getByTestId("me-username").textContent(), { timeout: 15_000 }).toContain(`web${suffix}`);

    // The session cookie is httpOnly: page scripts cannot read it.
    expect(await page.evaluate("document.cookie")).not.toMatch(/tessera_session/);
    const cookies = await context.cookies();
    expect(cookies.find((cookie) => cookie.name === "tessera_session")?.httpOnly).toBe(true);

    // Manifest and service worker make it installable.
    const manifest = await (await fetch(`${system.baseUrl}/manifest.webmanifest`)).json();
    expect(manifest).toMatchObject({ display: "standalone", start_url: "/" });
    expect((await fetch(`${system.baseUrl}/sw.js`)).status).toBe(200);

    await page.getByTestId("account-switcher").click();
    await page.getByTestId("sign-out").click();
    await page.waitForURL(/\/login/, { timeout: 15_000 });

    await page.getByLabel("Email or username").fill(`web${suffix}`);
    await page.getByLabel("Password", { exact: true }).fill("a browser made this passphrase");
    await page.getByRole("button", { name: /sign in/i }).click();
    await page.getByTestId("new-chat").waitFor({ timeout: 15_000 });
    await page.getByTestId("nav-settings").click();
    await expect.poll(() => page.getByTestId("me-username").textContent(), { timeout: 15_000 }).toContain(`web${suffix}`);
    await context.close();
  });
});
