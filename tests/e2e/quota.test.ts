import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AppError, EVENTS_EXCHANGE, USAGE_EVENT_TYPE, createGrpcClient, createSessionGrantSigner, encodeUsageEvent, newUuid } from "@tessera/platform";
import { QuotaServiceService } from "@tessera/proto/tessera/quota/v1/quota";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { HttpClient, startTestSystem, uniqueName, type TestSystem } from "@tessera/platform/testing";

// The quota surface through the BFF: a fresh user's quota, usage series, admin usage (and its
// 403s), and a usage event published to RabbitMQ showing up in all of them.
let system: TestSystem;
let broker: amqp.ChannelModel;
const namePrefix = `${uniqueName("quota")}.`;
const admin = { email: "quota-admin@example.com", username: "quotaadmin", password: "counting every token twice never" };

beforeAll(async () => {
  system = await startTestSystem({
    AMQP_NAME_PREFIX: namePrefix,
    // Limit changes apply at once (the default reuses them for 2 s).
    QUOTA_CACHE_MS: "0",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
  });
  broker = await amqp.connect(inject("amqpUrl"));
});

afterAll(async () => {
  await system?.stopAll();
  await broker?.close();
});

let counter = 0;
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const register = async () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  const browser = new HttpClient(system.baseUrl);
  const response = await browser.post("/api/v1/auth/register", {
    email: `quota${suffix}@example.com`,
    username: `quota${suffix}`,
    password: "a perfectly fine passphrase",
  });
  expect(response.status).toBe(201);
  const user = (await json(response)).user as { id: string; username: string; email: string };
  return { browser, user };
};
const asAdmin = async () => {
  const browser = new HttpClient(system.baseUrl);
  expect((await browser.post("/api/v1/auth/login", { login: admin.username, password: admin.password })).status).toBe(200);
  return browser;
};
const asUser = async (user: { username: string }) => {
  const browser = new HttpClient(system.baseUrl);
  expect((await browser.post("/api/v1/auth/login", { login: user.username, password: "a perfectly fine passphrase" })).status).toBe(200);
  return browser;
};
const eventually = async (check: () => Promise<void>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
};
const today = () => new Date().toISOString().slice(0, 10);

describe("quota through the BFF", () => {
  it("shows a new user 0/100 messages, 0/500000 tokens and the next midnight (UTC tenant)", async () => {
    const { browser } = await register();
    const response = await browser.get("/api/v1/quota");
    expect(response.status).toBe(200);
    const quota = await json(response);
    expect(quota).toEqual({ messages: { used: 0, limit: 100 }, tokens: { used: 0, limit: 500_000 }, resetAt: expect.any(String), premium: false });
    expect(quota.resetAt).toBe(new Date(Date.parse(`${today()}T00:00:00Z`) + 86_400_000).toISOString());

    const usage = await json(await browser.get("/api/v1/me/usage"));
    expect(usage.days).toHaveLength(30);
    expect(usage.days.at(-1)).toEqual({ date: today(), messages: 0, tokens: 0, byModel: [] });
  });

  it("describes its paths in the OpenAPI document", async () => {
    const document = await json(await fetch(`${system.baseUrl}/api/v1/openapi.json`));
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/api/v1/quota", "/api/v1/me/usage", "/api/v1/admin/usage", "/api/v1/admin/usage/{userId}"]),
    );
  });

  it("answers 401 signed out and 400 for a bad date", async () => {
    const anonymous = new HttpClient(system.baseUrl);
    expect((await anonymous.get("/api/v1/quota")).status).toBe(401);
    const { browser } = await register();
    const bad = await browser.get("/api/v1/me/usage?from=2026-02-30");
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("keeps admin usage to admins (403 for a normal user)", async () => {
    const { browser, user } = await register();
    for (const path of ["/api/v1/admin/usage", `/api/v1/admin/usage/${user.id}`]) {
      const response = await browser.get(path);
      expect(response.status).toBe(403);
      expect((await json(response)).type).toBe("https://tessera.dev/problems/forbidden");
    }
  });

  it("counts a usage event from the broker and shows it to the user and to admins", async () => {
    const { browser, user } = await register();
    const channel = await broker.createConfirmChannel();
    const event = {
      eventId: newUuid(),
      occurredAt: new Date().toISOString(),
      tenantId: "default",
      schemaVersion: 1,
      payload: {
        userId: user.id,
        chatId: "c1",
        messageId: "m1",
        model: "demo-echo",
        promptTokens: 12,
        completionTokens: 30,
        totalTokens: 42,
        source: "web",
        outcome: "complete",
        reservationId: "",
      },
    };
    // Published twice: counted once.
    for (let copy = 0; copy < 2; copy += 1) {
      channel.publish(`${namePrefix}${EVENTS_EXCHANGE}`, USAGE_EVENT_TYPE, encodeUsageEvent(event), {
        messageId: event.eventId,
        persistent: true,
        type: USAGE_EVENT_TYPE,
      });
    }
    await channel.waitForConfirms();
    await channel.close();

    await eventually(async () => {
      const quota = await json(await browser.get("/api/v1/quota"));
      expect(quota).toMatchObject({ messages: { used: 1, limit: 100 }, tokens: { used: 42, limit: 500_000 } });
    });
    const usage = await json(await browser.get(`/api/v1/me/usage?from=${today()}&to=${today()}`));
    expect(usage.days).toEqual([{ date: today(), messages: 1, tokens: 42, byModel: [{ model: "demo-echo", messages: 1, tokens: 42 }] }]);

    const adminBrowser = await asAdmin();
    await eventually(async () => {
      const day = await json(await adminBrowser.get(`/api/v1/admin/usage?date=${today()}&limit=100`));
      expect(day.date).toBe(today());
      expect(day.items).toContainEqual({ userId: user.id, username: user.username, email: user.email, messages: 1, tokens: 42 });
      expect(day.totals.messages).toBeGreaterThanOrEqual(1);
      expect(day.totals.tokens).toBeGreaterThanOrEqual(42);
    });
    const series = await json(await adminBrowser.get(`/api/v1/admin/usage/${user.id}?from=${today()}&to=${today()}`));
    expect(series.days).toEqual(usage.days);
  });

  it("over gRPC: the caller is the token's user; with one message left exactly one of many sends passes", async () => {
    const { user } = await register();
    const { user: other } = await register();
    const grpc = { internalToken: system.env.INTERNAL_GRPC_TOKEN!, defaultDeadlineMs: 10_000 };
    const session = createGrpcClient(SessionServiceService, { name: "session", address: `127.0.0.1:${system.ports.session.grpc}`, ...grpc });
    const quota = createGrpcClient(QuotaServiceService, { name: "quota", address: `127.0.0.1:${system.ports.quota.grpc}`, ...grpc });
    try {
      // The test stands in for identity, whose grant alone opens a session.
      const sessionGrant = await createSessionGrantSigner(system.env.SESSION_GRANT_SECRET!)({ tenantId: "default", userId: user.id, role: "user" });
      const { accessToken } = await session.createSession({
        sessionGrant,
        rememberMe: false,
        deviceInfo: "e2e",
        ip: "127.0.0.1",
      });
      const rejection = (promise: Promise<unknown>) =>
        promise.then(
          () => undefined,
          (error: AppError) => error.status,
        );
      expect(await rejection(quota.getQuota({ tenantId: "", userId: "" }))).toBe(401);
      expect(await rejection(quota.checkAndReserve({ tenantId: "default", userId: other.id, reservationId: "", estimatedTokens: 0, model: "", source: "" }, { accessToken }))).toBe(403);
      expect(await rejection(quota.getUsage({ tenantId: "default", userId: other.id, from: "", to: "", asAdmin: false }, { accessToken }))).toBe(403);
      expect(await rejection(quota.getDayUsage({ tenantId: "", date: "", limit: 10, cursor: "" }, { accessToken }))).toBe(403);
      expect(await rejection(quota.getModelUsage({ from: "", to: "", limit: 10, cursor: "" }, { accessToken }))).toBe(403);

      const adminBrowser = await asAdmin();
      expect((await adminBrowser.request("PATCH", `/api/v1/admin/users/${user.id}`, { body: { maxMessagesPerDay: 2 } })).status).toBe(200);
      await quota.checkAndReserve({ tenantId: "", userId: "", reservationId: "", estimatedTokens: 0, model: "", source: "" }, { accessToken });
      const sends = await Promise.allSettled(
        Array.from({ length: 12 }, () => quota.checkAndReserve({ tenantId: "", userId: "", reservationId: "", estimatedTokens: 0, model: "", source: "" }, { accessToken })),
      );
      expect(sends.filter((send) => send.status === "fulfilled")).toHaveLength(1);
      const refused = sends.filter((send): send is PromiseRejectedResult => send.status === "rejected").map((send) => send.reason as AppError);
      expect(refused.map((error) => error.code)).toEqual(Array(11).fill("quota_exceeded"));
      expect(refused[0]!.extensions).toMatchObject({ limits: { messages: 2, tokens: 500_000 }, used: { messages: 2, tokens: 0 } });
      const browserQuota = await json(await (await asUser(user)).get("/api/v1/quota"));
      expect(browserQuota.messages).toEqual({ used: 2, limit: 2 });
    } finally {
      session.close();
      quota.close();
    }
  });
});
