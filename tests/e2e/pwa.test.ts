// The PWA on a phone (Debian's Chromium through playwright-core, 390×844) against the real system
// and a streaming demo LLM: chat, stop, quota line, account switch, offline history and outbox,
// Russian on every screen, the dark theme, and axe-core on every screen.
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";
import { axeViolations } from "./support/axe.ts";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const admin = { email: "pwa-admin@example.com", username: "pwaadmin", password: "administrating the phone app" };
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const WAIT = { timeout: 20_000 };

let system: TestSystem;
let upstream: DemoUpstream;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (npm test installs Debian's chromium)`);
  upstream = await startDemoUpstream({ tokenDelayMs: 25 });
  system = await startTestSystem({
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "good",
    DEFAULT_LLM_MODELS: "demo-echo",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
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

let counter = 0;
const newUser = () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  return { email: `pwa${suffix}@example.com`, username: `pwa${suffix}`, password: "a phone made this passphrase" };
};

async function register(page: Page, user: { email: string; username: string; password: string }) {
  await page.goto(`${system.baseUrl}/register`);
  await page.getByLabel("Email", { exact: true }).fill(user.email);
  await page.getByLabel("Username", { exact: true }).fill(user.username);
  await page.getByLabel("Password", { exact: true }).fill(user.password);
  await page.getByTestId("register-submit").click();
  await page.getByTestId("new-chat").waitFor(WAIT);
}

async function signIn(page: Page, login: string, password: string, add = false) {
  await page.goto(`${system.baseUrl}/login${add ? "?add=1" : ""}`);
  await page.getByLabel(/Email or username|Почта или имя/).fill(login);
  await page.getByLabel(/^(Password|Пароль)$/).fill(password);
  await page.getByRole("button", { name: /^(sign in|войти)$/i }).click();
  await page.getByTestId("new-chat").waitFor(WAIT);
}

async function newChat(page: Page): Promise<string> {
  await page.getByTestId("new-chat").click();
  await page.waitForURL(/\/chats\/[^/]+$/, WAIT);
  await page.getByTestId("composer").waitFor(WAIT);
  return new URL(page.url()).pathname.split("/").pop()!;
}

async function send(page: Page, text: string) {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("send").click();
}

const lastAnswer = (page: Page) => page.getByTestId("message-assistant").last();

/** The signed-in user's messages of a chat, asked of the server from the page (its cookie). */
const serverMessages = (page: Page, chatId: string) =>
  page.evaluate(async (id) => ((await (await fetch(`/api/v1/chats/${id}/messages?limit=100`)).json()) as { items: { role: string; content: string }[] }).items, chatId);

async function phoneContext(options: { locale?: string } = {}): Promise<BrowserContext> {
  return browser.newContext({ ...phone, locale: options.locale ?? "en-US", serviceWorkers: "allow" });
}

describe("the PWA on a phone", () => {
  it("registers, chats with a streamed Markdown answer (sanitised), stops an answer, and the quota line ticks", async () => {
    const context = await phoneContext();
    const page = await context.newPage();
    const user = newUser();
    await register(page, user);
    await expect.poll(() => page.getByTestId("quota-line").textContent(), WAIT).toMatch(/^\s*(Today's quota:)?\s*0\/100 messages/);

    await newChat(page);
    await send(page, "**bold** and <img src=x onerror=alert(1)> here");
    await expect.poll(() => lastAnswer(page).getAttribute("data-status"), WAIT).toBe("complete");
    expect(await lastAnswer(page).textContent()).toContain("Echo:");
    // Markdown is rendered, and the model's HTML is not.
    expect(await lastAnswer(page).locator("strong").count()).toBe(1);
    expect(await lastAnswer(page).locator("img").count()).toBe(0);
    await expect.poll(() => page.getByTestId("quota-line").textContent(), WAIT).toMatch(/1\/100 messages/);

    // A long answer streams in word by word; Stop keeps what was written.
    await send(page, "[words=600]");
    await page.getByTestId("stop").waitFor(WAIT);
    await expect.poll(async () => (await lastAnswer(page).textContent())?.includes("w5"), WAIT).toBe(true);
    await page.getByTestId("stop").click();
    await expect.poll(() => lastAnswer(page).getAttribute("data-status"), WAIT).toBe("aborted");
    await page.getByTestId("answer-stopped").last().waitFor(WAIT);
    expect(await lastAnswer(page).textContent()).not.toContain("w600");
    await page.getByTestId("send").waitFor(WAIT);

    // Scroll-back: a long chat opens on its latest messages; earlier ones come with before=SEQ.
    const chatId = new URL(page.url()).pathname.split("/").pop()!;
    await page.evaluate(async (id) => {
      const { token } = (await (await fetch("/api/v1/auth/csrf")).json()) as { token: string };
      for (let i = 1; i <= 26; i += 1) {
        const response = await fetch(`/api/v1/chats/${id}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": token },
          body: JSON.stringify({ content: `q${i} [words=1]`, clientMessageId: `scroll-${i}` }),
        });
        await response.text();
      }
    }, chatId);
    // On another device (nothing stored yet) the chat opens on its latest 50 messages.
    const other = await phoneContext();
    const phone2 = await other.newPage();
    await signIn(phone2, user.username, user.password);
    await phone2.goto(`${system.baseUrl}/chats/${chatId}`);
    await expect.poll(() => phone2.getByTestId("message-user").count(), WAIT).toBe(25);
    expect(await phone2.getByTestId("messages").textContent()).not.toContain("**bold**");
    const earlier = phone2.waitForRequest((request) => /messages\?before=\d+/.test(request.url()));
    await phone2.getByTestId("load-older").click();
    await earlier;
    await expect.poll(() => phone2.getByTestId("message-user").count(), WAIT).toBe(28);
    expect(await phone2.getByTestId("message-user").first().textContent()).toContain("**bold**");
    await other.close();
    await context.close();
  });

  it("turns the quota line red at the limit and says when sending is possible again", async () => {
    const context = await phoneContext();
    const page = await context.newPage();
    const user = newUser();
    await register(page, user);
    const me = (await page.evaluate(async () => (await fetch("/api/v1/me")).json())) as { id: string };
    const operatorBrowser = new HttpClient(system.baseUrl);
    expect((await operatorBrowser.post("/api/v1/auth/login", { login: admin.username, password: admin.password })).status).toBe(200);
    expect((await operatorBrowser.request("PATCH", `/api/v1/admin/users/${me.id}`, { body: { maxMessagesPerDay: 1 } })).status).toBe(200);

    await newChat(page);
    expect(await page.getByTestId("quota-line").getAttribute("data-at-limit")).toBe("false");
    await send(page, "the only message today");
    await expect.poll(() => lastAnswer(page).getAttribute("data-status"), WAIT).toBe("complete");
    await expect.poll(() => page.getByTestId("quota-line").textContent(), WAIT).toMatch(/1\/1 messages/);
    expect(await page.getByTestId("quota-line").getAttribute("data-at-limit")).toBe("true");
    const [red, danger] = (await page.evaluate(
      `[getComputedStyle(document.querySelector("[data-testid=quota-line]")).color, getComputedStyle(document.documentElement).getPropertyValue("--danger").trim()]`,
    )) as [string, string];
    expect(danger).toBe("#b42318");
    expect(red).toBe("rgb(180, 35, 24)");
    await page.getByTestId("over-quota").waitFor(WAIT);
    expect(await page.getByTestId("send").isDisabled()).toBe(true);

    // Silenced by an admin: history stays readable, writing is off, and the screen says why.
    expect((await operatorBrowser.request("PATCH", `/api/v1/admin/users/${me.id}`, { body: { status: "silenced", maxMessagesPerDay: null } })).status).toBe(200);
    await page.reload();
    await page.getByTestId("silenced").waitFor(WAIT);
    expect(await page.getByTestId("composer").isDisabled()).toBe(true);
    expect(await lastAnswer(page).textContent()).toContain("the only message today");
    await context.close();
  });

  it("switches accounts from the header: chats, quota and profile follow", async () => {
    const context = await phoneContext();
    const page = await context.newPage();
    const first = newUser();
    const second = newUser();
    await register(page, first);
    await newChat(page);
    await send(page, "first user's question");
    await expect.poll(() => lastAnswer(page).getAttribute("data-status"), WAIT).toBe("complete");

    await page.goto(`${system.baseUrl}/`);
    await page.getByTestId("account-switcher").click();
    await page.getByTestId("add-account").click();
    await page.waitForURL(/\/login/, WAIT);
    await register(page, second);
    await page.getByTestId("chats-empty").waitFor(WAIT);
    await expect.poll(() => page.getByTestId("quota-line").textContent(), WAIT).toMatch(/0\/100 messages/);

    await page.getByTestId("account-switcher").click();
    await page.getByTestId("switch-account").click();
    await expect.poll(() => page.getByTestId("chat-link").count(), WAIT).toBe(1);
    await expect.poll(() => page.getByTestId("quota-line").textContent(), WAIT).toMatch(/1\/100 messages/);
    await page.getByTestId("nav-settings").click();
    await expect.poll(() => page.getByTestId("me-username").textContent(), WAIT).toBe(first.username);

    // Settings: this device is marked among the sessions; an API key is shown once, then only its prefix.
    await page.getByTestId("this-device").waitFor(WAIT);
    await page.getByLabel("Key name").fill("my script");
    await page.getByTestId("create-key").click();
    const key = await page.getByTestId("new-key-value").inputValue();
    expect(key).toMatch(/^tsk_/);
    const models = await fetch(`${system.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
    await page.reload();
    await page.getByTestId("api-keys").getByText("my script", { exact: true }).waitFor(WAIT);
    expect(await page.getByTestId("new-key").count()).toBe(0);
    expect(await page.evaluate("document.body.innerText")).not.toContain(key);
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByTestId("api-keys").getByRole("button", { name: /Revoke.*my script/ }).click();
    await expect.poll(() => page.getByTestId("api-keys").getByText("my script", { exact: true }).count(), WAIT).toBe(0);
    await expect.poll(async () => (await fetch(`${system.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status, WAIT).toBe(401);
    await context.close();
  });

  it("reads history offline and delivers a message written offline exactly once, also across an app restart", async () => {
    const context = await phoneContext();
    let page = await context.newPage();
    await register(page, newUser());
    // The service worker has the app shell before the network goes away.
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)");
    const chatId = await newChat(page);
    await send(page, "remember this while underground");
    await expect.poll(() => lastAnswer(page).getAttribute("data-status"), WAIT).toBe("complete");

    await context.setOffline(true);
    await page.goto(`${system.baseUrl}/`);
    await page.getByTestId("offline-badge").waitFor(WAIT);
    await page.getByTestId("chats-from-device").waitFor(WAIT);
    await page.getByTestId("chat-link").first().click();
    await expect.poll(() => lastAnswer(page).textContent(), WAIT).toContain("remember this while underground");

    // Written offline: visibly waiting.
    await send(page, "written with no signal");
    await page.getByTestId("message-pending").waitFor(WAIT);
    await expect.poll(() => page.getByTestId("pending-badge").textContent(), WAIT).toMatch(/1 message waiting/);

    // The app is closed and opened again, still offline: the message still waits.
    await page.close();
    page = await context.newPage();
    await page.goto(`${system.baseUrl}/chats/${chatId}`);
    await page.getByTestId("message-pending").waitFor(WAIT);
    await send(page, "and a second one");
    await expect.poll(() => page.getByTestId("message-pending").count(), WAIT).toBe(2);

    // Back online: both go out, in order, once each.
    await context.setOffline(false);
    await expect.poll(() => page.getByTestId("message-pending").count(), WAIT).toBe(0);
    await expect.poll(() => lastAnswer(page).getAttribute("data-status"), WAIT).toBe("complete");
    // Opening the app once more (it flushes its outbox on start) sends nothing again.
    await page.reload();
    await expect.poll(() => page.getByTestId("message-user").count(), WAIT).toBe(3);
    const stored = await serverMessages(page, chatId);
    const questions = stored.filter((message) => message.role === "user").map((message) => message.content);
    expect(questions).toEqual(["remember this while underground", "written with no signal", "and a second one"]);
    expect(stored.filter((message) => message.role === "assistant")).toHaveLength(3);
    await context.close();
  });

  it("speaks Russian on every screen, keeps the dark theme, and axe finds nothing serious on any screen", async () => {
    const context = await phoneContext({ locale: "ru-RU" });
    const page = await context.newPage();
    // Russian before signing in: the browser's language.
    await page.goto(`${system.baseUrl}/login`);
    await page.getByRole("heading", { name: "Вход в Tessera" }).waitFor(WAIT);
    expect(await page.evaluate("document.documentElement.lang")).toBe("ru");
    expect(await axeViolations(page)).toEqual([]);
    await page.goto(`${system.baseUrl}/register`);
    await page.getByRole("heading", { level: 1 }).waitFor(WAIT);
    expect(await axeViolations(page)).toEqual([]);

    await signIn(page, admin.username, admin.password);
    const chatId = await newChat(page);
    await send(page, "Привет, **мир**");
    await expect.poll(() => lastAnswer(page).getAttribute("data-status"), WAIT).toBe("complete");
    const me = (await page.evaluate(async () => (await fetch("/api/v1/me")).json())) as { id: string };

    // Each screen: a Russian heading, the Russian navigation, and no serious axe violation, in both themes.
    const screens: Array<[string, RegExp]> = [
      ["/", /^Чаты$/],
      [`/chats/${chatId}`, /Привет/],
      ["/settings", /^Настройки$/],
      ["/usage", /^Расход$/],
      ["/admin/users", /^Пользователи$/],
      [`/admin/users/${me.id}`, new RegExp(`^${admin.username}$`)],
      ["/admin/usage", /^Расход по пользователям$/],
    ];
    for (const theme of ["light", "dark"]) {
      if (theme === "dark") {
        await page.goto(`${system.baseUrl}/settings`);
        await page.getByTestId("theme-dark").check();
        await page.reload();
        expect(await page.evaluate("document.documentElement.dataset.theme")).toBe("dark");
      }
      for (const [path, heading] of screens) {
        await page.goto(`${system.baseUrl}${path}`);
        await page.getByRole("heading", { level: 1, name: heading }).waitFor(WAIT);
        expect(await page.getByRole("navigation", { name: "Основное" }).getByRole("link", { name: "Чаты" }).count()).toBe(1);
        expect(await page.evaluate("document.documentElement.lang")).toBe("ru");
        expect(await page.evaluate("document.documentElement.dataset.theme")).toBe(theme);
        expect(await page.evaluate("document.body.innerText")).not.toMatch(/\b(Settings|Messages|Chats|Sign out|Usage)\b/);
        expect(await axeViolations(page), `${path} (${theme})`).toEqual([]);
      }
    }
    // The dark theme outlives the browser session.
    const reopened = await context.newPage();
    await reopened.goto(`${system.baseUrl}/`);
    await reopened.getByTestId("new-chat").waitFor(WAIT);
    expect(await reopened.evaluate("document.documentElement.dataset.theme")).toBe("dark");
    await context.close();
  });
});
