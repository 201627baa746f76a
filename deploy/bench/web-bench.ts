// Benchmark: what the PWA costs a phone. For each screen, the JavaScript it loads when opened
// directly (gzip sizes of the files the browser fetched, from web/build), and the time to a usable
// chat list when the app is opened again from the service worker on a throttled mobile profile
// (Chromium's "Slow 4G" network and a 4× slower CPU; BENCH_CPU_RATE changes it), median of several runs.
//   npm run build -w web && npm run bench:web   (uses MONGO_URL/REDIS_URL/AMQP_URL; Debian's chromium)
import { testSecrets } from "@tessera/platform/testing";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium, type Page } from "playwright-core";
import { percentile } from "@tessera/platform";
import { startSystem } from "@tessera/platform/launcher";
import { startDemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

const runs = Number(process.env.BENCH_RUNS ?? 7);
/** CPU slow-down of the phone profile (4 = a mid-range phone; 1 = this machine as it is). */
const cpuRate = Number(process.env.BENCH_CPU_RATE ?? 4);
const buildDir = join(import.meta.dirname, "../../web/build");
const name = `webbench_${Date.now().toString(36)}`;
const mongo = new URL(process.env.MONGO_URL!);
mongo.pathname = `/${name}`;
const admin = { username: "benchadmin", email: "bench-admin@example.com", password: "benchmarking the phone app" };
const upstream = await startDemoUpstream({ tokenDelayMs: 1 });
const system = await startSystem({
  randomPorts: true,
  env: {
    MONGO_URL: mongo.toString(),
    REDIS_URL: process.env.REDIS_URL,
    AMQP_URL: process.env.AMQP_URL,
    REDIS_KEY_PREFIX: `${name}:`,
    AMQP_NAME_PREFIX: `${name}.`,
    ...testSecrets(),
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "good",
    DEFAULT_LLM_MODELS: "demo-echo",
    // the demo upstream runs on loopback, which the chat service refuses unless allowed
    UPSTREAM_ALLOWED_HOSTS: "127.0.0.1",
    LOG_LEVEL: "warn",
  },
  onOutput: () => undefined,
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const gzipped = new Map<string, number>();
const gzipSize = (path: string) => {
  if (!gzipped.has(path)) gzipped.set(path, gzipSync(readFileSync(join(buildDir, path))).length);
  return gzipped.get(path)!;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** The JavaScript files a page fetched (same origin), as paths under web/build. */
const scriptsOf = async (page: Page): Promise<string[]> =>
  ((await page.evaluate("performance.getEntriesByType('resource').map((entry) => entry.name)")) as string[])
    .map((url) => new URL(url))
    .filter((url) => url.origin === system.baseUrl && url.pathname.endsWith(".js"))
    .map((url) => url.pathname.slice(1));

try {
  const context = await browser.newContext({ ...phone, serviceWorkers: "block" });
  const page = await context.newPage();
  const report: Array<[string, number, number]> = [];
  const measure = async (label: string, path: string, ready: string) => {
    await page.goto(`${system.baseUrl}${path}`);
    await page.locator(ready).first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState("networkidle");
    const files = await scriptsOf(page);
    report.push([label, files.length, files.reduce((sum, file) => sum + gzipSize(file), 0)]);
  };
  await measure("sign in (first screen, signed out)", "/login", "[data-testid=login-submit], form");
  await page.getByLabel("Email or username").fill(admin.username);
  await page.getByLabel("Password", { exact: true }).fill(admin.password);
  await page.getByRole("button", { name: /sign in/i }).click();
  await page.getByTestId("new-chat").waitFor({ timeout: 30_000 });
  await measure("chat list (first screen, signed in)", "/", "[data-testid=new-chat]");
  await page.getByTestId("new-chat").click();
  await page.waitForURL(/\/chats\//);
  await page.getByTestId("composer").fill("Hello, **world**");
  await page.getByTestId("send").click();
  await page.locator("[data-testid=message-assistant][data-status=complete]").waitFor({ timeout: 30_000 });
  await measure("chat (with an answer: + Markdown)", new URL(page.url()).pathname, "[data-testid=message-assistant] .md");
  await measure("settings", "/settings", "[data-testid=settings-profile]");
  await measure("usage", "/usage", "[data-testid=usage-chart]");
  await measure("admin: users", "/admin/users", "[data-testid=admin-users]");
  await measure("admin: usage", "/admin/usage", "[data-testid=admin-usage]");
  await context.close();

  console.log("JavaScript loaded when a screen is opened directly (gzip):");
  for (const [label, files, bytes] of report) console.log(`  ${label.padEnd(38)} ${String(files).padStart(3)} files  ${kb(bytes).padStart(9)}`);

  // Time to a usable chat list, opened again from the service worker on a throttled phone.
  const swContext = await browser.newContext({ ...phone, serviceWorkers: "allow" });
  const swPage = await swContext.newPage();
  await swPage.goto(`${system.baseUrl}/login`);
  await swPage.getByLabel("Email or username").fill(admin.username);
  await swPage.getByLabel("Password", { exact: true }).fill(admin.password);
  await swPage.getByRole("button", { name: /sign in/i }).click();
  await swPage.getByTestId("new-chat").waitFor({ timeout: 30_000 });
  await swPage.evaluate("navigator.serviceWorker.ready.then(() => true)");
  await swPage.reload();
  await swPage.getByTestId("new-chat").waitFor({ timeout: 30_000 });
  const cdp = await swContext.newCDPSession(swPage);
  // Chromium DevTools' "Slow 4G" preset (since Chrome 121) and a 4× slower CPU (a mid-range phone).
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  });
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: cpuRate });
  const fromWorker: number[] = [];
  const listed: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    await swPage.reload({ waitUntil: "commit" });
    await swPage.getByTestId("new-chat").waitFor({ timeout: 30_000 });
    fromWorker.push((await swPage.evaluate("performance.now()")) as number);
    await swPage.locator("[data-testid=chat-list][aria-busy=false]").waitFor({ state: "attached", timeout: 30_000 });
    listed.push((await swPage.evaluate("performance.now()")) as number);
  }
  const controlled = (await swPage.evaluate("navigator.serviceWorker.controller !== null")) as boolean;
  console.log(`Opened again from the service worker (controlled: ${controlled}), Slow 4G + ${cpuRate}× CPU, ${runs} runs:`);
  console.log(
    `  chat list interactive (shell + this device's chats)  p50 ${percentile(fromWorker, 50).toFixed(0)} ms  max ${Math.max(...fromWorker).toFixed(0)} ms`,
  );
  console.log(`  chat list refreshed from the server                   p50 ${percentile(listed, 50).toFixed(0)} ms  max ${Math.max(...listed).toFixed(0)} ms`);
  await swContext.close();
} finally {
  await browser.close();
  await system.stopAll();
  await upstream.close();
}
