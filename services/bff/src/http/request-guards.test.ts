import { describe, expect, it } from "vitest";
import { malformedRequestReply } from "./request-guards.ts";

const parse = (reply: string) => {
  const [head, body] = reply.split("\r\n\r\n");
  return { head: head!, body: JSON.parse(body!) as Record<string, any> };
};

describe("the answer to a request Node's parser refuses", () => {
  it("speaks OpenAI's error format under /v1 and problem details elsewhere", () => {
    const openAi = parse(malformedRequestReply(Buffer.from("POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer \u0001\r\n")));
    expect(openAi.head).toContain("HTTP/1.1 400 Bad Request");
    expect(openAi.head).toContain("Content-Type: application/json");
    expect(openAi.body.error).toMatchObject({ type: "invalid_request_error", code: "bad_request", param: null });

    for (const packet of [Buffer.from("GET /api/v1/me HTTP/1.1\r\nX: \u0001\r\n"), Buffer.from("GET /v1x HTTP/1.1\r\n"), undefined]) {
      const problem = parse(malformedRequestReply(packet));
      expect(problem.head).toContain("Content-Type: application/problem+json");
      expect(problem.body).toMatchObject({ type: "https://tessera.dev/problems/bad_request", status: 400 });
    }
  });

  it("states the body's exact length", () => {
    const reply = malformedRequestReply(Buffer.from("GET /v1/models HTTP/1.1\r\n"));
    const length = Number(/Content-Length: (\d+)/.exec(reply)![1]);
    expect(Buffer.byteLength(reply.split("\r\n\r\n")[1]!)).toBe(length);
  });
});
