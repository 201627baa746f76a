import type { RequestHandler } from "express";
import { AppError, toProblem, validationFailed } from "@tessera/platform";
import { openAiError } from "../routes/openai-routes.ts";
import type { Operation } from "./contract.ts";
import { nulField } from "./validate.ts";

/**
 * The whole answer to a request Node's HTTP parser refuses (a header with characters HTTP does not
 * allow, a malformed request line). There is no request object then, so it goes to the socket as
 * it is, in the error format of the API the request line names: OpenAI's under /v1, a problem
 * document elsewhere.
 */
export function malformedRequestReply(rawPacket: Buffer | undefined): string {
  const requestLine = rawPacket?.subarray(0, 256).toString("latin1") ?? "";
  const error = new AppError("bad_request", 400, "The request is malformed.");
  const [type, body] = /^[A-Z]+ \/v1(?:[/?# ]|$)/.test(requestLine)
    ? ["application/json", JSON.stringify(openAiError(error).body)]
    : ["application/problem+json", JSON.stringify(toProblem(error))];
  return `HTTP/1.1 400 Bad Request\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * 405 with `Allow` for a path the API serves under other methods (RFC 9110 §15.5.6); paths it
 * does not serve at all fall through to 404.
 */
export function methodNotAllowed(operations: readonly Operation[]): RequestHandler {
  // Paths without parameters are looked up directly; only templated ones are tried one by one.
  const exact = new Map<string, Set<string>>();
  const templated = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { path, method } of operations) {
    let methods: Set<string>;
    if (path.includes("{")) {
      const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}/?$`);
      const entry = templated.get(path) ?? { pattern, methods: new Set<string>() };
      templated.set(path, entry);
      methods = entry.methods;
    } else {
      methods = exact.get(path) ?? new Set<string>();
      exact.set(path, methods);
    }
    methods.add(method.toUpperCase());
    if (method === "get") methods.add("HEAD");
  }
  return (request, response, next) => {
    const path = request.originalUrl.split("?")[0] ?? "";
    const direct = exact.get(path) ?? (path.length > 1 && path.endsWith("/") ? exact.get(path.slice(0, -1)) : undefined);
    if (direct?.has(request.method)) return next();
    const allowed = new Set(direct);
    for (const { pattern, methods } of templated.values()) {
      if (!pattern.test(path)) continue;
      if (methods.has(request.method)) return next();
      for (const method of methods) allowed.add(method);
    }
    if (allowed.size === 0) return next();
    response.setHeader("Allow", [...allowed].join(", "));
    next(new AppError("method_not_allowed", 405, `${request.method} is not supported here; use ${[...allowed].join(", ")}.`));
  };
}

/**
 * A NUL character in the path or the query is refused with 400 before any route runs: the
 * document store cannot keep one, and no identifier or parameter contains one.
 */
export function refuseNulInUrl(): RequestHandler {
  return (request, _response, next) => {
    const path = request.originalUrl.split("?")[0] ?? "";
    let decoded = path;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return next(validationFailed([{ field: "path", message: "The path is not validly percent-encoded." }]));
    }
    if (decoded.includes("\u0000")) return next(validationFailed([{ field: "path", message: "NUL characters are not allowed." }]));
    const inQuery = nulField(request.query);
    if (inQuery !== undefined) return next(validationFailed([{ field: inQuery, message: "NUL characters are not allowed." }]));
    next();
  };
}
