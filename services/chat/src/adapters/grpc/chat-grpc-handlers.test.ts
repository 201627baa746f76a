import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { AppError, createAdmissionLimit, fromGrpcError, toGrpcError, toProblem, type Caller, type CallContext } from "@tessera/platform";
import { chatGrpcHandlers, type ChatHandlerUseCases } from "./chat-grpc-handlers.ts";

const caller: Caller = { tenantId: "t1", userId: "u1", role: "user", platformRole: null, scopes: [], kind: "session", sessionId: "s1", apiKeyId: null };
const context = (): CallContext => ({ metadata: new Metadata(), signal: new AbortController().signal, bearerToken: "token", requestId: undefined });

/** Use cases whose answers stream until the test lets each one finish (or fail). */
function heldAnswers() {
  const pending: Array<{ finish: () => void; fail: (error: Error) => void }> = [];
  async function* answer(): AsyncGenerator<any> {
    yield { type: "delta", text: "one" };
    await new Promise<void>((finish, fail) => pending.push({ finish, fail }));
    yield { type: "delta", text: " two" };
  }
  const useCases = { complete: () => answer(), sendMessage: () => answer() } as unknown as ChatHandlerUseCases;
  return { useCases, pending };
}

describe("chat's bound on completions in flight", () => {
  it("refuses a web send or /v1 completion past the bound with 503 overloaded and Retry-After, and admits again once one ends", async () => {
    const { useCases, pending } = heldAnswers();
    const answers = createAdmissionLimit(2);
    const handlers = chatGrpcHandlers(useCases, async () => caller, answers);
    const complete = () => handlers.complete({ model: "m", messages: [], parametersJson: "", stream: true }, () => undefined, context());
    const send = () => handlers.sendMessage({ chatId: "c", content: "hi", clientMessageId: "x", source: "web" }, () => undefined, context());

    const first = complete();
    const second = send();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending).toHaveLength(2);
    const refused = await send().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AppError);
    // What the BFF receives over gRPC, and so answers its client (problem or OpenAI's body, with Retry-After).
    const received = fromGrpcError(toGrpcError(refused), "chat");
    expect([received.status, received.code, received.retryAfterSeconds]).toEqual([503, "overloaded", 1]);
    expect(toProblem(received)).toMatchObject({ status: 503, type: "https://tessera.dev/problems/overloaded" });
    await expect(complete()).rejects.toMatchObject({ code: "overloaded" });

    // A failed answer frees its slot as a finished one does.
    pending[0]!.fail(new Error("upstream went away"));
    await expect(first).rejects.toThrow("upstream went away");
    const third = complete();
    await new Promise((resolve) => setImmediate(resolve));
    expect([pending.length, answers.inFlight]).toEqual([3, 2]);
    pending[1]!.finish();
    pending[2]!.finish();
    await Promise.all([second, third]);
    expect(answers.inFlight).toBe(0);
  });
});
