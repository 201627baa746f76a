import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";

// Attacks on the running system, over HTTP, as an outsider would try them (issue 10).
let system: TestSystem;
const admin = { email: "root@example.com", username: "root", password: "root of all accounts" };
const operator = { email: "ops@example.com", password: "operating the platform" };

beforeAll(async () => {
  system = await startTestSystem({
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "5",
    REGISTRATION_MAX_PER_IP: "10",
    // Each test speaks from its own address (X-Forwarded-For from the loopback "proxy").
    TRUSTED_PROXIES: "loopback",
  });
});
afterAll(async () => system?.stopAll());

let counter = 0;
const newUser = () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  return { email: `sec${suffix}@example.com`, username: `sec${suffix}`, password: "a perfectly fine passphrase" };
};
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const from = (ip: string) => ({ "x-forwarded-for": ip });
const signedIn = async (user = newUser()) => {
  const browser = new HttpClient(system.baseUrl);
  const response = await browser.post("/api/v1/auth/register", user, from(`192.0.2.${counter % 250}`));
  expect(response.status).toBe(201);
  return { browser, user, id: (await json(response)).user.id as string };
};
const login = async (credentials: { login: string; password: string }) => {
  const browser = new HttpClient(system.baseUrl);
  const response = await browser.post("/api/v1/auth/login", credentials);
  return { browser, response };
};

describe("sign-in and registration throttling", () => {
  it("lets at most the limit through of 50 parallel sign-ins against one account, the right password among them", async () => {
    const { user } = await signedIn();
    const attackers = await Promise.all(Array.from({ length: 50 }, async () => {
      const browser = new HttpClient(system.baseUrl);
      await browser.fetchCsrf();
      return browser;
    }));
    const statuses = await Promise.all(
      attackers.map(async (browser, index) =>
        (await browser.post("/api/v1/auth/login", { login: index % 2 ? user.username : user.email.toUpperCase(), password: index === 30 ? user.password : `guess ${index}` })).status,
      ),
    );
    expect(statuses.filter((status) => status !== 429).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(45);
  });

  it("keeps the owner's browser that signed in before able to sign in while strangers are locked out", async () => {
    const { user } = await signedIn();
    const { browser: owner, response } = await login({ login: user.username, password: user.password });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie().some((cookie) => cookie.startsWith("tessera_device=") && /HttpOnly/i.test(cookie))).toBe(true);
    expect((await owner.post("/api/v1/auth/logout")).status).toBe(204);
    for (let index = 0; index < 6; index += 1) await login({ login: user.email, password: `guess ${index}` });
    const stranger = await login({ login: user.email, password: user.password });
    expect(stranger.response.status).toBe(429);
    expect(Number(stranger.response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await owner.post("/api/v1/auth/login", { login: user.email, password: user.password })).status).toBe(200);
  });

  it("throttles 30 parallel registrations from one IP", async () => {
    const browsers = await Promise.all(Array.from({ length: 30 }, async () => {
      const browser = new HttpClient(system.baseUrl);
      await browser.fetchCsrf();
      return browser;
    }));
    const statuses = await Promise.all(browsers.map(async (browser) => (await browser.post("/api/v1/auth/register", newUser(), from("198.51.100.77"))).status));
    expect(statuses.filter((status) => status === 201).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(20);
  });
});
