import { describe, expect, it } from "vitest";
import { AppError, fromGrpcError, internal, overloaded, toGrpcError, tooManyRequests, unauthenticated, validationFailed } from "@tessera/platform";
import { openAiError } from "./openai-routes.ts";

describe("openAiError", () => {
  it("speaks OpenAI's error format for the cases clients branch on", () => {
    expect(openAiError(unauthenticated("bad key", "invalid_api_key"))).toEqual({
      status: 401,
      body: { error: { message: "bad key", type: "invalid_request_error", param: null, code: "invalid_api_key" } },
    });
    const quota = openAiError(tooManyRequests("over", 60, "quota_exceeded", { resetAt: "2030-01-01T00:00:00.000Z" }));
    expect(quota).toEqual({
      status: 429,
      body: { error: { message: "over", type: "insufficient_quota", param: null, code: "insufficient_quota", resetAt: "2030-01-01T00:00:00.000Z" } },
    });
    expect(openAiError(validationFailed([{ field: "messages.0.role", message: "Unknown role." }], "Invalid request.")).body.error).toMatchObject({
      type: "invalid_request_error",
      param: "messages[0].role",
      code: "validation_failed",
    });
    expect(openAiError(new AppError("model_not_found", 404, "no such model")).body.error).toMatchObject({
      type: "invalid_request_error",
      code: "model_not_found",
    });
  });

  it("answers work refused at a bound (here, or by the chat service over gRPC) as OpenAI's overloaded 503", () => {
    const expected = {
      status: 503,
      body: { error: { message: "The server is busy with other requests; try again shortly.", type: "server_error", param: null, code: "overloaded" } },
    };
    expect(openAiError(overloaded())).toEqual(expected);
    const fromChat = fromGrpcError(toGrpcError(overloaded()), "chat");
    expect(openAiError(fromChat)).toEqual(expected);
    expect(fromChat.retryAfterSeconds).toBe(1);
  });

  it("never shows internal details", () => {
    const { status, body } = openAiError(internal(new Error("database password is hunter2")));
    expect(status).toBe(500);
    expect(JSON.stringify(body)).not.toContain("hunter2");
    expect(body.error).toMatchObject({ type: "server_error", code: "internal_error" });
  });
});
