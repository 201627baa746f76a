import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatServiceService, type CompletionEvent } from "@tessera/proto/tessera/chat/v1/chat";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { AppError, notFound } from "./errors.ts";
import { createGrpcClient, implement, startGrpcServer, type CallContext } from "./grpc.ts";
import { createLogger } from "./logger.ts";

// The wrapper's contract, pinned over real grpc-js calls on loopback: the context a handler sees,
// cancellation and deadlines reaching its signal, error translation both ways, the internal-token
// check, UNIMPLEMENTED, streaming, and the caller's token forwarded to calls made on its behalf.
const internalToken = "test-internal-token-0123456789";
const logger = createLogger("test", "silent");
const seen: Array<{ method: string; bearerToken: string | undefined; requestId: string | undefined; internal: unknown }> = [];
const signals = new Map<string, AbortSignal>();
/** Calls of the downstream ("second hop") server, with the bearer token each carried. */
const downstream: Array<string | undefined> = [];

const waitFor = async (check: () => boolean, timeoutMs = 3_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
};

const events = (count: number): CompletionEvent[] => Array.from({ length: count }, (_, index) => ({ delta: `word${index}` }));

let servers: Array<{ close(): Promise<void> }> = [];
let session: ReturnType<typeof createGrpcClient<typeof SessionServiceService>>;
let chat: ReturnType<typeof createGrpcClient<typeof ChatServiceService>>;
let wrongToken: ReturnType<typeof createGrpcClient<typeof SessionServiceService>>;
let wrongTokenChat: ReturnType<typeof createGrpcClient<typeof ChatServiceService>>;
let address = "";

beforeAll(async () => {
  // The second hop: what a service called while serving a call receives.
  const second = await startGrpcServer(
    0,
    [
      {
        definition: SessionServiceService as never,
        implementation: implement(
          SessionServiceService,
          {
            getJwks: async (_request, context) => {
              downstream.push(context.bearerToken);
              return { json: String(context.bearerToken) };
            },
          },
          { logger, internalToken },
        ),
      },
    ],
    "127.0.0.1",
  );
  const secondAddress = `127.0.0.1:${second.port}`;
  const forwarding = createGrpcClient(SessionServiceService, { name: "second", address: secondAddress, internalToken, forwardCaller: true });
  const notForwarding = createGrpcClient(SessionServiceService, { name: "second", address: secondAddress, internalToken });

  const remember = (method: string, context: CallContext) =>
    seen.push({ method, bearerToken: context.bearerToken, requestId: context.requestId, internal: context.metadata.get("x-internal-token")[0] });

  const first = await startGrpcServer(
    0,
    [
      {
        definition: SessionServiceService as never,
        implementation: implement(
          SessionServiceService,
          {
            refresh: async (request, context) => {
              remember("refresh", context);
              if (request.refreshToken === "missing") throw notFound("session");
              if (request.refreshToken === "crash") throw new Error("secret internals");
              if (request.refreshToken === "wait") {
                // Waits for cancellation or the deadline, however it arrives.
                signals.set(request.ip, context.signal);
                await new Promise((resolve) => context.signal.addEventListener("abort", resolve, { once: true }));
                throw new AppError("cancelled", 499, "cancelled");
              }
              if (request.refreshToken === "keep") {
                // Keeps the signal past the end of the call: an ended call does not abort it.
                signals.set(request.ip, context.signal);
              }
              if (request.refreshToken === "late-signal") {
                // Reads the signal only after the client went away.
                await sleep(300);
                signals.set(request.ip, context.signal);
              }
              return {
                accessToken: "access",
                accessExpiresAt: "",
                refreshToken: request.refreshToken,
                refreshExpiresAt: "",
                sessionId: "s1",
                userId: "u1",
                tenantId: "t1",
              };
            },
            // Calls the second hop while serving: forwarded, explicitly named, or not forwarded.
            getJwks: async (_request, context) => {
              remember("getJwks", context);
              const forwarded = (await forwarding.getJwks({})).json;
              const named = (await forwarding.getJwks({}, { accessToken: "named-token" })).json;
              const plain = (await notForwarding.getJwks({})).json;
              return { json: JSON.stringify({ forwarded, named, plain }) };
            },
          },
          { logger, internalToken },
        ),
      },
      {
        definition: ChatServiceService as never,
        implementation: implement(
          ChatServiceService,
          {
            complete: async (request, emit, context) => {
              remember("complete", context);
              const count = Number(request.model.split(":")[1] ?? 3);
              if (request.model.startsWith("fail")) {
                for (const event of events(count)) emit(event);
                throw notFound("model");
              }
              if (request.model.startsWith("endless")) {
                signals.set(request.parametersJson, context.signal);
                for (let index = 0; !context.signal.aborted; index++) {
                  emit({ delta: `word${index}` });
                  await sleep(5);
                }
                return;
              }
              for (const event of events(count)) emit(event);
            },
          },
          { logger, internalToken },
        ),
      },
    ],
    "127.0.0.1",
  );
  servers = [first, second];
  address = `127.0.0.1:${first.port}`;
  session = createGrpcClient(SessionServiceService, { name: "session", address, internalToken });
  chat = createGrpcClient(ChatServiceService, { name: "chat", address, internalToken });
  wrongToken = createGrpcClient(SessionServiceService, { name: "session", address, internalToken: "not-the-token-0123456789" });
  wrongTokenChat = createGrpcClient(ChatServiceService, { name: "chat", address, internalToken: "short" });
  return () => {
    forwarding.close();
    notForwarding.close();
  };
});

afterAll(async () => {
  session?.close();
  chat?.close();
  wrongToken?.close();
  wrongTokenChat?.close();
  await Promise.all(servers.map((server) => server.close()));
});

const refresh = (refreshToken: string, options: Parameters<typeof session.refresh>[1] = {}, ip = "") => session.refresh({ refreshToken, ip }, options);
const failureOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as AppError;
  }
  throw new Error("the call succeeded");
};

describe("gRPC wrapper", () => {
  it("answers a unary call and hands the handler the caller's token, request id and metadata", async () => {
    const answer = await refresh("ok", { accessToken: "the-access-token", requestId: "req-1" });
    expect(answer.refreshToken).toBe("ok");
    expect(answer.tenantId).toBe("t1");
    expect(seen.at(-1)).toEqual({ method: "refresh", bearerToken: "the-access-token", requestId: "req-1", internal: internalToken });
    await refresh("ok");
    expect(seen.at(-1)).toEqual({ method: "refresh", bearerToken: undefined, requestId: undefined, internal: internalToken });
  });

  it("refuses a caller without the internal token before any handler runs", async () => {
    const before = seen.length;
    const error = await failureOf(wrongToken.refresh({ refreshToken: "ok", ip: "" }));
    expect(error).toBeInstanceOf(AppError);
    expect(error.status).toBe(401);
    expect(error.code).toBe("unknown_caller");
    const streamError = await failureOf(
      (async () => {
        for await (const _event of wrongTokenChat.complete({ model: "ok:3", messages: [], parametersJson: "", stream: true }));
      })(),
    );
    expect(streamError).toMatchObject({ status: 401, code: "unknown_caller" });
    expect(seen.length).toBe(before);
  });

  it("carries an AppError across the wire and hides unexpected errors", async () => {
    const missing = await failureOf(refresh("missing"));
    expect(missing).toMatchObject({ status: 404, code: "not_found", message: "The session does not exist." });
    const crash = await failureOf(refresh("crash"));
    expect(crash).toMatchObject({ status: 500, code: "internal", expose: false });
    expect(crash.message).not.toContain("secret");
  });

  it("answers UNIMPLEMENTED for a method without a handler", async () => {
    const error = await failureOf(session.checkSession({ sessionId: "x" }));
    expect(error.status).toBe(500);
    expect((error.cause as { code?: number }).code).toBe(12);
  });

  it("aborts the handler's signal when the deadline passes, and the caller gets a 503", async () => {
    const started = Date.now();
    const error = await failureOf(refresh("wait", { deadlineMs: 300 }, "deadline"));
    expect(error.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await waitFor(() => signals.get("deadline")?.aborted === true);
  });

  it("aborts the handler's signal when the caller cancels", async () => {
    const controller = new AbortController();
    const pending = failureOf(refresh("wait", { signal: controller.signal }, "cancel"));
    await waitFor(() => signals.has("cancel"));
    expect(signals.get("cancel")!.aborted).toBe(false);
    controller.abort();
    expect((await pending).status).toBe(499);
    await waitFor(() => signals.get("cancel")!.aborted);
  });

  it("never aborts the signal of a call that ended normally", async () => {
    await refresh("keep", {}, "kept");
    await sleep(100);
    expect(signals.get("kept")!.aborted).toBe(false);
  });

  it("gives an aborted signal to a handler that reads it after its caller cancelled", async () => {
    const controller = new AbortController();
    const pending = failureOf(refresh("late-signal", { signal: controller.signal }, "late"));
    await sleep(50);
    controller.abort();
    expect((await pending).status).toBe(499);
    await waitFor(() => signals.has("late"));
    expect(signals.get("late")!.aborted).toBe(true);
  });

  it("streams every message in order", async () => {
    const received: string[] = [];
    for await (const event of chat.complete(
      { model: "ok:25", messages: [], parametersJson: "", stream: true },
      { accessToken: "stream-token", requestId: "req-s" },
    ))
      received.push(event.delta!);
    expect(received).toEqual(events(25).map((event) => event.delta));
    expect(seen.at(-1)).toMatchObject({ method: "complete", bearerToken: "stream-token", requestId: "req-s" });
  });

  it("delivers the messages sent before a stream's error, then the error", async () => {
    const received: string[] = [];
    const error = await failureOf(
      (async () => {
        for await (const event of chat.complete({ model: "fail:4", messages: [], parametersJson: "", stream: true })) received.push(event.delta!);
      })(),
    );
    expect(received).toEqual(events(4).map((event) => event.delta));
    expect(error).toMatchObject({ status: 404, code: "not_found" });
  });

  it("cancels the rest of a stream its reader stopped reading", async () => {
    let count = 0;
    for await (const _event of chat.complete({ model: "endless", messages: [], parametersJson: "early-stop", stream: true })) if (++count === 3) break;
    await waitFor(() => signals.get("early-stop")?.aborted === true);
  });

  it("cancels a stream through the caller's signal", async () => {
    const controller = new AbortController();
    let count = 0;
    const error = await failureOf(
      (async () => {
        for await (const _event of chat.complete(
          { model: "endless", messages: [], parametersJson: "stream-cancel", stream: true },
          { signal: controller.signal },
        ))
          if (++count === 2) controller.abort();
      })(),
    );
    expect(error.status).toBe(499);
    await waitFor(() => signals.get("stream-cancel")?.aborted === true);
  });

  it("forwards the caller's token to calls made on its behalf, unless a call names another", async () => {
    const { json } = await session.getJwks({}, { accessToken: "user-token" });
    expect(JSON.parse(json)).toEqual({ forwarded: "user-token", named: "named-token", plain: "undefined" });
    // Nothing leaks from one call to the next.
    const again = await session.getJwks({});
    expect(JSON.parse(again.json)).toEqual({ forwarded: "undefined", named: "named-token", plain: "undefined" });
  });

  it("serves many concurrent calls of different callers without mixing their tokens", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, index) => session.getJwks({}, { accessToken: `user-${index}` })));
    answers.forEach((answer, index) => expect(JSON.parse(answer.json).forwarded).toBe(`user-${index}`));
  });
});
