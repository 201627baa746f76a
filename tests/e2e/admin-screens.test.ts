// The admin and operator screens in a real browser (Debian's Chromium through playwright-core):
// tenant settings, providers with write-only keys, the audit log and the operator's tenants, in
// English and Russian, with axe-core on each screen.
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";
import { axeViolations } from "./support/axe.ts";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const admin = { email: "screens-admin@example.com", username: "screensadmin", password: "administering from a browser" };
const operator = { email: "screens-ops@example.com", password: "operating from a browser too" };
const WAIT = { timeout: 20_000 };
const KEY = "sk-typed-in-the-browser-7c2e";

let system: TestSystem;
let upstream: DemoUpstream;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (npm test installs Debian's chromium)`);
  upstream = await startDemoUpstream({ tokenDelayMs: 1, models: ["demo-echo", "demo-web"] });
  system = await startTestSystem({
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "good",
    DEFAULT_LLM_MODELS: "demo-echo",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
  });
  browser = await chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await system?.stopAll();
  await upstream?.close();
});

async function signedIn(login: string, password: string, locale = "en-US"): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale });
  const page = await context.newPage();
  await page.goto(`${system.baseUrl}/login`);
  await page.getByLabel(/Email or username|Почта или имя/).fill(login);
  await page.getByLabel(/^(Password|Пароль)$/).fill(password);
  await page.getByRole("button", { name: /^(sign in|войти)$/i }).click();
  await page.getByTestId("new-chat").waitFor(WAIT);
  return page;
}

const adminApi = async () => {
  const client = new HttpClient(system.baseUrl);
  expect((await client.post("/api/v1/auth/login", { login: admin.username, password: admin.password })).status).toBe(200);
  return client;
};

describe("admin screens", () => {
  it("changes tenant settings, adds a provider whose key is never shown, and reads both in the audit log", async () => {
    const page = await signedIn(admin.username, admin.password);
    await page.goto(`${system.baseUrl}/admin/settings`);
    await page.getByRole("heading", { level: 1, name: "Tenant settings" }).waitFor(WAIT);
    await page.getByTestId("settings-default-messages").fill("42");
    await page.getByTestId("settings-time-zone").fill("Europe/Berlin");
    await page.getByTestId("settings-auto-link").uncheck();
    // The answer token maximum takes whole numbers from 1 to 1,000,000: the browser keeps a 0 from being sent.
    const maxTokens = page.getByTestId("settings-max-completion-tokens");
    await maxTokens.fill("0");
    await page.getByTestId("settings-save").click();
    expect(await maxTokens.evaluate((input) => (input as unknown as { validity: { rangeUnderflow: boolean } }).validity.rangeUnderflow)).toBe(true);
    expect(await (await (await adminApi()).get("/api/v1/admin/settings")).json()).toMatchObject({ timeZone: "UTC", maxCompletionTokens: null });
    await maxTokens.fill("300");
    await page.getByTestId("settings-save").click();
    await page.getByText("Saved.").waitFor(WAIT);
    expect(await axeViolations(page)).toEqual([]);
    const settings = await (await (await adminApi()).get("/api/v1/admin/settings")).json();
    expect(settings).toMatchObject({ defaultLimits: { messages: 42, tokens: null }, timeZone: "Europe/Berlin", autoLinkVerifiedEmail: false, maxCompletionTokens: 300 });

    await page.getByTestId("admin-nav-providers").click();
    await page.getByRole("heading", { level: 1, name: "Upstream providers" }).waitFor(WAIT);
    await page.getByTestId("provider-new-name").fill("Browser provider");
    await page.getByTestId("provider-new-url").fill(upstream.url);
    await page.getByTestId("provider-new-models").fill("demo-web=Demo web");
    await page.getByTestId("provider-new-key").fill(KEY);
    await page.getByTestId("provider-add").click();
    await page.getByTestId("provider-card").waitFor(WAIT);
    expect(await page.getByTestId("provider-key").textContent()).toBe(`…${KEY.slice(-4)}`);
    expect(await page.content()).not.toContain(KEY);
    expect(await axeViolations(page)).toEqual([]);

    // The new model is offered once ticked in the settings.
    await page.getByTestId("admin-nav-settings").click();
    await page.getByTestId("settings-model-demo-web").check();
    await page.getByTestId("settings-save").click();
    await page.getByText("Saved.").waitFor(WAIT);
    expect(await page.evaluate(async () => (await fetch("/api/v1/models")).json())).toEqual([{ id: "demo-web", name: "Demo web" }]);

    await page.getByTestId("admin-nav-audit").click();
    await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor(WAIT);
    await page.getByTestId("audit-entry").first().waitFor(WAIT);
    const actions = await page.getByTestId("audit-entry").locator("code").allTextContents();
    expect(actions.slice(0, 3)).toEqual(["settings.update", "provider.create", "settings.update"]);
    await page.getByTestId("audit-action").fill("provider.create");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => page.getByTestId("audit-entry").count(), WAIT).toBe(1);
    expect(await page.content()).not.toContain(KEY);
    expect(await axeViolations(page)).toEqual([]);
    await page.context().close();
  });

  it("lets the operator create a tenant and grant it the shared upstream, recorded in the platform audit", async () => {
    const page = await signedIn(operator.email, operator.password);
    await page.getByTestId("nav-admin").click();
    await page.waitForURL(/\/admin\/tenants$/, WAIT);
    await page.getByRole("heading", { level: 1, name: "Tenants" }).waitFor(WAIT);
    const slug = `web${Date.now().toString(36)}`;
    await page.getByTestId("tenant-new-slug").fill(slug);
    await page.getByTestId("tenant-new-name").fill("From the browser");
    await page.getByTestId("tenant-create").click();
    await page.getByText("Tenant created.").waitFor(WAIT);
    const card = page.getByTestId("tenant-card").filter({ hasText: `(${slug})` });
    await card.getByTestId("tenant-shared-upstream").check();
    await card.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor(WAIT);
    expect(await axeViolations(page)).toEqual([]);
    const tenant = await page.evaluate(async (id) => (await fetch(`/api/v1/operator/tenants/${id}`)).json(), slug);
    expect(tenant).toMatchObject({ id: slug, sharedUpstream: true });

    await page.getByTestId("admin-nav-platformAudit").click();
    await page.getByRole("heading", { level: 1, name: "Platform audit" }).waitFor(WAIT);
    await page.getByTestId("audit-entry").first().waitFor(WAIT);
    expect((await page.getByTestId("audit-entry").locator("code").allTextContents()).slice(0, 2)).toEqual(["tenant.update", "tenant.create"]);
    expect(await axeViolations(page)).toEqual([]);
    await page.context().close();
  });

  it("speaks Russian on the settings, providers and audit screens", async () => {
    const page = await signedIn(admin.username, admin.password, "ru-RU");
    const screens: Array<[string, string]> = [
      ["/admin/settings", "Настройки организации"],
      ["/admin/providers", "Провайдеры моделей"],
      ["/admin/audit", "Журнал аудита"],
    ];
    for (const [path, heading] of screens) {
      await page.goto(`${system.baseUrl}${path}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor(WAIT);
      expect(await page.evaluate("document.body.innerText"), path).not.toMatch(/\b(Settings|Providers|Audit log|Save|Time zone)\b/);
      expect(await axeViolations(page), path).toEqual([]);
    }
    await page.context().close();
  });
});
