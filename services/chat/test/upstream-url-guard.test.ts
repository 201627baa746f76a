import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { LookupAddress } from "node:dns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@tessera/platform";
import { createOpenAiCompatibleGateway } from "../src/adapters/upstream/openai-compatible-gateway.ts";
import { createUpstreamUrlGuard } from "../src/adapters/upstream/upstream-url-guard.ts";
import { KeyPool } from "../src/domain/key-pool.ts";
import { systemClock } from "@tessera/platform";

// SSRF: provider URLs must not reach inside the installation (issue 10, point 7). Local HTTP
// servers stand in for internal services and for an upstream that misbehaves.
let internal: Server;
let internalHits = 0;
let internalPort: number;
let misbehaving: Server;
let misbehavingPort: number;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  internal = createServer((_request, response) => {
    internalHits += 1;
    response.end("internal secret");
  });
  internalPort = await listen(internal);
  misbehaving = createServer((request, response) => {
    if (request.url?.startsWith("/redirect")) {
      response.writeHead(302, { location: `http://127.0.0.1:${internalPort}/v1/chat/completions` }).end();
    } else response.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "db password is hunter2 at 10.0.0.7" } }));
  });
  misbehavingPort = await listen(misbehaving);
});
afterAll(async () => {
  internal?.close();
  misbehaving?.close();
});

/** A resolver answering a public address first and the loopback afterwards (DNS rebinding). */
const rebinding = () => {
  let calls = 0;
  return ((hostname: string, _options: unknown, callback: (error: Error | null, addresses: LookupAddress[]) => void) => {
    calls += 1;
    if (hostname === "rebind.example") callback(null, [{ address: calls === 1 ? "93.184.216.34" : "127.0.0.1", family: 4 }]);
    else if (hostname === "loopback.example") callback(null, [{ address: "127.0.0.1", family: 4 }]);
    else callback(Object.assign(new Error("not found"), { code: "ENOTFOUND" }), []);
  }) as never;
};

describe("upstream URL guard", () => {
  it("refuses loopback, link-local, private and cluster addresses, and names resolving to them", async () => {
    const guard = createUpstreamUrlGuard({ allowedHosts: [], lookup: rebinding() });
    for (const url of [
      "http://169.254.169.254/",
      "http://127.0.0.1:6379/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://10.96.0.1/",
      "http://192.168.1.10/v1",
      "http://100.64.0.1/",
      "http://[fd00::1]/",
      "http://loopback.example/v1",
      "http://0.0.0.0:8080/",
      "http://user:pass@93.184.216.34/",
    ]) {
      expect(await guard.refusal(url), url).not.toBeNull();
    }
    expect(await guard.refusal("https://93.184.216.34/v1")).toBeNull();
    // "localhost" resolves to the loopback through the system's own resolver.
    expect(await createUpstreamUrlGuard({ allowedHosts: [] }).refusal("http://localhost:11434/v1")).not.toBeNull();
    await guard.close();
  });

  it("lets the operator allow named hosts and ranges (a model server on the LAN)", async () => {
    const guard = createUpstreamUrlGuard({ allowedHosts: ["loopback.example", "192.168.1.0/24", "::1"], lookup: rebinding() });
    expect(await guard.refusal("http://loopback.example/v1")).toBeNull();
    expect(await guard.refusal("http://192.168.1.10/v1")).toBeNull();
    expect(await guard.refusal("http://[::1]:8000/v1")).toBeNull();
    expect(await guard.refusal("http://192.168.2.10/v1")).not.toBeNull();
    await guard.close();
  });

  it("checks the address again at connect time: a name that resolves inside after the save is refused", async () => {
    const guard = createUpstreamUrlGuard({ allowedHosts: [], lookup: rebinding() });
    expect(await guard.refusal(`http://rebind.example:${internalPort}/`)).toBeNull();
    await expect(guard.request(`http://rebind.example:${internalPort}/`, { method: "GET", headers: {} })).rejects.toThrow();
    await expect(guard.request(`http://127.0.0.1:${internalPort}/`, { method: "GET", headers: {} })).rejects.toThrow(/internal address/);
    expect(internalHits).toBe(0);
    await guard.close();
  });

  it("follows no redirect and never shows an upstream's error body", async () => {
    // The misbehaving upstream itself is allowed (it is on loopback); where it points is not followed.
    const guard = createUpstreamUrlGuard({ allowedHosts: ["127.0.0.1"] });
    const gateway = (path: string) =>
      createOpenAiCompatibleGateway({
        providers: {
          providersFor: async (tenantId) => [
            { id: "p", tenantId, baseUrl: `http://127.0.0.1:${misbehavingPort}${path}`, models: [{ id: "m", name: "m" }], keys: [{ id: "k", secret: "sk" }] },
          ],
        },
        pool: new KeyPool(systemClock, { cooldownMs: 1_000, unauthorizedCooldownMs: 1_000 }),
        firstTokenTimeoutMs: 2_000,
        idleTimeoutMs: 2_000,
        answerTimeoutMs: 2_000,
        fetch: (url, init) => guard.request(url, init),
      });
    const failure = async (path: string) => {
      try {
        for await (const chunk of gateway(path).stream(
          { tenantId: "t", model: "m", messages: [{ role: "user", content: "hi" }], parameters: {}, stream: true },
          new AbortController().signal,
        ))
          void chunk;
      } catch (error) {
        return error as AppError;
      }
      throw new Error("the stream did not fail");
    };
    const redirected = await failure("/redirect");
    expect(redirected.code).toBe("upstream_redirect_refused");
    expect(internalHits).toBe(0);
    const rejected = await failure("/v1");
    expect(rejected.code).toBe("upstream_rejected");
    expect(rejected.message).not.toContain("hunter2");
    expect(rejected.message).not.toContain("10.0.0.7");
    await guard.close();
  });
});
