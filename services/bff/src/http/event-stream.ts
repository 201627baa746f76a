import type { Response } from "express";

export interface EventStream {
  /** Queues text for the client; what is queued in one turn of the event loop leaves in one write. */
  write(text: string): void;
  /** Sends what is queued, then ends the answer. */
  end(): void;
}

/**
 * Starts a Server-Sent Events answer. Text written in one turn of the event loop (the first
 * events with the headers, or a burst of events) goes to the socket in one write instead of one
 * each. (Not `response.cork()`: with chunked encoding, `end()` while corked sends the final chunk
 * before the corked data.)
 */
export function startEventStream(response: Response): EventStream {
  response.status(200);
  response.setHeader("Content-Type", "text/event-stream; charset=utf-8");
  response.setHeader("Cache-Control", "no-store");
  response.setHeader("X-Accel-Buffering", "no");
  let queued = "";
  const flush = () => {
    if (queued === "") return;
    const text = queued;
    queued = "";
    response.write(text);
  };
  return {
    write(text) {
      if (queued === "") process.nextTick(flush);
      queued += text;
    },
    end() {
      flush();
      response.end();
    },
  };
}
