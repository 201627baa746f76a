import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEventStream } from "./event-stream.ts";

// Over one keep-alive connection, as API clients send request after request.
const app = express();
app.get("/events", (_request, response) => {
  const stream = startEventStream(response);
  stream.write("data: one\n\n");
  stream.write("data: two\n\n");
  // Ended in the same turn as the writes: everything must go before the end of the answer.
  stream.write("data: [DONE]\n\n");
  stream.end();
});
app.get("/later", (_request, response) => {
  const stream = startEventStream(response);
  stream.write("data: first\n\n");
  setTimeout(() => {
    stream.write("data: second\n\n");
    stream.end();
  }, 5);
});
let server: ReturnType<typeof app.listen>;
const agent = new Agent({ connections: 1 });
let base = "";

beforeAll(async () => {
  server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await agent.close();
  server.close();
});

describe("startEventStream", () => {
  it("sends every event before the end of its answer, so the next answer on the connection is intact", async () => {
    for (let round = 0; round < 20; round += 1) {
      const answer = await request(`${base}/events`, { dispatcher: agent });
      expect(answer.statusCode).toBe(200);
      expect(answer.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      expect(await answer.body.text()).toBe("data: one\n\ndata: two\n\ndata: [DONE]\n\n");
      const later = await request(`${base}/later`, { dispatcher: agent });
      expect(await later.body.text()).toBe("data: first\n\ndata: second\n\n");
    }
  });
});
