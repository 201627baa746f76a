import { status as GrpcStatus } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { AppError, fromGrpcError, internal, toGrpcError, toProblem, tooManyRequests, validationFailed } from "./errors.ts";

describe("errors", () => {
  it("turns an AppError into a problem document with a stable type and field errors", () => {
    const problem = toProblem(validationFailed([{ field: "email", message: "Enter a valid email address." }]), "/api/v1/auth/register");
    expect(problem).toEqual({
      type: "https://tessera.dev/problems/validation_failed",
      title: "Bad Request",
      status: 400,
      detail: "The request is not valid.",
      errors: [{ field: "email", message: "Enter a valid email address." }],
      instance: "/api/v1/auth/register",
    });
  });

  it("never exposes internals of unexpected errors", () => {
    const problem = toProblem(new Error("connection string mongodb://user:secret@db"));
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain("secret");
    expect(problem.type).toMatch(/internal$/);
    expect(toProblem(internal(new Error("boom"))).detail).toBe("Something went wrong on our side.");
  });

  it("round-trips an AppError through gRPC metadata, keeping code, fields and extensions", () => {
    const original = tooManyRequests("Over quota.", 30, "quota_exceeded", { resetAt: "2026-01-01T00:00:00.000Z" });
    const wire = toGrpcError(original);
    expect(wire.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    const back = fromGrpcError({ ...wire, message: "", name: "Error" }, "quota");
    expect(back).toBeInstanceOf(AppError);
    expect(back).toMatchObject({ code: "quota_exceeded", status: 429, retryAfterSeconds: 30, extensions: { resetAt: "2026-01-01T00:00:00.000Z" } });
  });

  it("maps an unreachable service to 503 without a body from the callee", () => {
    const back = fromGrpcError({ code: GrpcStatus.UNAVAILABLE, details: "No connection established" }, "identity");
    expect(back.status).toBe(503);
    expect(toProblem(back).detail).toMatch(/identity service is unavailable/);
  });

  it("hides the message of an unexposed error on the wire", () => {
    const wire = toGrpcError(new Error("stack and secrets"));
    expect(wire.code).toBe(GrpcStatus.INTERNAL);
    expect(wire.details).toBe("internal error");
  });
});

describe("outages", () => {
  it("turn driver connection errors into 503 with Retry-After, never 500", async () => {
    const { toAppError, toProblem } = await import("./errors.ts");
    const samples = [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:27017"), { name: "MongoNetworkError" }),
      Object.assign(new Error("Server selection timed out after 30000 ms"), { name: "MongoServerSelectionError" }),
      Object.assign(new Error("(InternalError) failed to connect to `host=127.0.0.1 user=ferret database=ferretdb`: dial error"), { name: "MongoServerError", code: 1 }),
      Object.assign(new Error("FATAL: terminating connection due to administrator command (SQLSTATE 57P01)"), { name: "MongoServerError", code: 1 }),
      new Error("Connection is closed."),
    ];
    for (const sample of samples) {
      const error = toAppError(sample);
      expect([error.status, error.retryAfterSeconds, toProblem(error).type]).toEqual([503, 2, "https://tessera.dev/problems/unavailable"]);
    }
    expect(toAppError(Object.assign(new Error("E11000 duplicate key"), { code: 11000 })).status).toBe(500);
  });
});
