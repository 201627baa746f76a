/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Parses a text/event-stream body (WHATWG rules: data lines joined by "\n", a blank line ends an
 * event) into the events completed by each read of the body, so a reader handles one batch per
 * network read rather than one await per event.
 */
export async function* parseSseBatches(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent[]> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  const takeLine = (line: string): SseEvent | undefined => {
    if (line === "") {
      const complete = data.length > 0 ? { event: event || "message", data: data.join("\n") } : undefined;
      event = "";
      data = [];
      return complete;
    }
    if (line.charCodeAt(0) === 58 /* ":" */) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* " " */) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    return undefined;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    const batch: SseEvent[] = [];
    let start = 0;
    for (let index = 0; index < buffer.length; index += 1) {
      const code = buffer.charCodeAt(index);
      if (code !== 10 && code !== 13) continue;
      // A "\r" as the buffer's last character may be the first half of "\r\n": wait for more.
      if (code === 13 && index + 1 === buffer.length) break;
      const complete = takeLine(buffer.slice(start, index));
      if (complete) batch.push(complete);
      if (code === 13 && buffer.charCodeAt(index + 1) === 10) index += 1;
      start = index + 1;
    }
    buffer = buffer.slice(start);
    if (batch.length > 0) yield batch;
  }
  buffer += decoder.decode();
  const batch: SseEvent[] = [];
  if (buffer.length > 0) takeLine(buffer.endsWith("\r") ? buffer.slice(0, -1) : buffer);
  const last = takeLine("");
  if (last) batch.push(last);
  if (batch.length > 0) yield batch;
}

/** Parses a text/event-stream body into events, one at a time. */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  for await (const batch of parseSseBatches(body)) yield* batch;
}
