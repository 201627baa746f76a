// Micro-benchmark of one gRPC hop: CPU per call on the client and on the server side, for a unary
// call (a refresh-sized answer) and a server-streaming call (a completion of BENCH_STREAM_MESSAGES
// events), through our wrappers (`implement`, `createGrpcClient`) and through bare grpc-js handlers
// and calls for reference (what is grpc-js's own). The server runs in a child process so that each
// side's CPU is its own.
//   npm run bench:grpc -w services/platform        (BENCH_SECONDS=4 BENCH_CONCURRENCY=16 BENCH_STREAM_MESSAGES=10)
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import { Metadata, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { ChatServiceService, type CompletionEvent } from "@tessera/proto/tessera/chat/v1/chat";
import { SessionServiceService, type TokenPair } from "@tessera/proto/tessera/session/v1/session";
import { createGrpcClient, implement, startGrpcServer } from "../src/grpc.ts";
import { createLogger } from "../src/logger.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const streamMessages = Number(process.env.BENCH_STREAM_MESSAGES ?? 10);
const internalToken = "bench-internal-token-0123456789abcdef";
// A token the size of a real access JWT, as the BFF sends with every call.
const accessToken = `eyJhbGciOiJFUzI1NiJ9.${"x".repeat(380)}.${"y".repeat(86)}`;
const answer: TokenPair = {
  accessToken,
  accessExpiresAt: new Date().toISOString(),
  refreshToken: `${"s".repeat(24)}.${"r".repeat(43)}`,
  refreshExpiresAt: new Date().toISOString(),
  sessionId: "s".repeat(24),
  userId: "u".repeat(24),
  tenantId: "default",
};
const events: CompletionEvent[] = [
  { started: { id: "chatcmpl-bench", model: "demo", created: 1 } },
  ...Array.from({ length: Math.max(0, streamMessages - 2) }, (_, index) => ({ delta: `word${index} ` })),
  { done: { finishReason: "stop", usage: { promptTokens: 10, completionTokens: streamMessages, totalTokens: 10 + streamMessages } } },
];

type Mode = "wrapped" | "raw";

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

// ---- server side (child process) ----
async function serve(mode: Mode): Promise<void> {
  let implementation: { session: UntypedServiceImplementation; chat: UntypedServiceImplementation };
  if (mode === "wrapped") {
    const logger = createLogger("bench", "silent");
    implementation = {
      session: implement(SessionServiceService, { refresh: async (_request, context) => (context.bearerToken ? answer : answer) }, { logger, internalToken }),
      chat: implement(
        ChatServiceService,
        {
          complete: async (_request, emit) => {
            for (const event of events) emit(event);
          },
        },
        { logger, internalToken },
      ),
    };
  } else {
    implementation = {
      session: { refresh: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => callback(null, answer) },
      chat: {
        complete: (call: ServerWritableStream<unknown, unknown>) => {
          for (const event of events) call.write(event);
          call.end();
        },
      },
    };
  }
  const server = await startGrpcServer(
    0,
    [
      { definition: SessionServiceService as never, implementation: implementation.session },
      { definition: ChatServiceService as never, implementation: implementation.chat },
    ],
    "127.0.0.1",
  );
  process.on("message", (message) => {
    if (message === "cpu") process.send!({ cpu: cpuMicros() });
    if (message === "stop") void server.close().then(() => process.exit(0));
  });
  process.send!({ port: server.port });
}

// ---- client side ----
async function cpuOf(child: ChildProcess): Promise<number> {
  child.send("cpu");
  const [reply] = (await once(child, "message")) as [{ cpu: number }];
  return reply.cpu;
}

async function measure(child: ChildProcess, label: string, call: () => Promise<unknown>) {
  // Warm up (JIT, connection), then count.
  const warmUntil = performance.now() + 1_000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmUntil) await call();
    }),
  );
  const serverBefore = await cpuOf(child);
  const clientBefore = cpuMicros();
  let calls = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await call();
        calls++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const client = cpuMicros() - clientBefore;
  const server = (await cpuOf(child)) - serverBefore;
  return {
    label,
    calls,
    perSecond: Math.round(calls / elapsed),
    clientCpuMicrosPerCall: +(client / calls).toFixed(1),
    serverCpuMicrosPerCall: +(server / calls).toFixed(1),
  };
}

async function bench(mode: Mode) {
  const child = fork(fileURLToPath(import.meta.url), ["--server", mode], {
    execArgv: ["--max-semi-space-size=4", ...(process.env.BENCH_SERVER_NODE_OPTIONS ?? "").split(" ").filter(Boolean)],
  });
  const [{ port }] = (await once(child, "message")) as [{ port: number }];
  const address = `127.0.0.1:${port}`;
  const results = [];
  if (mode === "wrapped") {
    const session = createGrpcClient(SessionServiceService, { name: "session", address, internalToken });
    const chat = createGrpcClient(ChatServiceService, { name: "chat", address, internalToken });
    results.push(
      await measure(child, "wrapped unary", () =>
        session.refresh({ refreshToken: answer.refreshToken, ip: "127.0.0.1" }, { accessToken, requestId: "req-bench" }),
      ),
    );
    results.push(
      await measure(child, `wrapped server stream (${events.length} messages)`, async () => {
        for await (const _event of chat.complete(
          { model: "demo", messages: [{ role: "user", content: "hello" }], parametersJson: "{}", stream: true },
          { accessToken, requestId: "req-bench" },
        ));
      }),
    );
    session.close();
    chat.close();
  } else {
    // The same calls on bare grpc-js clients: the metadata the wrapper sends, a deadline, no wrapper.
    const session = createGrpcClient(SessionServiceService, { name: "session", address, internalToken }).raw;
    const chat = createGrpcClient(ChatServiceService, { name: "chat", address, internalToken }).raw;
    const metadata = () => {
      const value = new Metadata();
      value.set("x-internal-token", internalToken);
      value.set("authorization", `Bearer ${accessToken}`);
      value.set("x-request-id", "req-bench");
      return value;
    };
    const refresh = SessionServiceService.refresh;
    const complete = ChatServiceService.complete;
    results.push(
      await measure(
        child,
        "raw grpc-js unary",
        () =>
          new Promise((resolve, reject) =>
            session.makeUnaryRequest(
              refresh.path,
              refresh.requestSerialize,
              refresh.responseDeserialize,
              { refreshToken: answer.refreshToken, ip: "127.0.0.1" },
              metadata(),
              { deadline: Date.now() + 5_000 },
              (error, value) => (error ? reject(error) : resolve(value)),
            ),
          ),
      ),
    );
    results.push(
      await measure(child, `raw grpc-js server stream (${events.length} messages)`, async () => {
        const call = chat.makeServerStreamRequest(
          complete.path,
          complete.requestSerialize,
          complete.responseDeserialize,
          { model: "demo", messages: [{ role: "user", content: "hello" }], parametersJson: "{}", stream: true },
          metadata(),
          {
            deadline: Date.now() + 600_000,
          },
        );
        for await (const _event of call);
      }),
    );
    session.close();
    chat.close();
  }
  child.send("stop");
  await once(child, "exit");
  return results;
}

if (process.argv[2] === "--server") {
  await serve(process.argv[3] as Mode);
} else {
  const order = (process.env.BENCH_MODES ?? "wrapped,raw").split(",") as Mode[];
  const results = [];
  for (const mode of order) results.push(...(await bench(mode)));
  for (const result of results) console.log(JSON.stringify(result));
  console.log(JSON.stringify({ seconds, concurrency, loadAverage: loadavg().map((value) => +value.toFixed(2)) }));
}
