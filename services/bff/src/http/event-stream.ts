import type { Response } from "express";

/**
 * Starts a Server-Sent Events answer and returns its writer. What is written in one turn of the
 * event loop (the headers and the first events, or a burst of events) leaves in one write to the
 * socket instead of one each.
 */
export function startEventStream(response: Response): (text: string) => void {
  response.status(200);
  response.setHeader("Content-Type", "text/event-stream; charset=utf-8");
  response.setHeader("Cache-Control", "no-store");
  response.setHeader("X-Accel-Buffering", "no");
  let corked = false;
  const write = (text: string) => {
    if (!corked) {
      corked = true;
      response.cork();
      process.nextTick(() => {
        corked = false;
        response.uncork();
      });
    }
    response.write(text);
  };
  return write;
}
