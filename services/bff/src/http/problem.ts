import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import { AppError, toAppError, toProblem, type Logger } from "@tessera/platform";

/** Sends an RFC 9457 problem document (the only way errors leave the BFF). */
export function sendProblem(response: Response, error: unknown, instance?: string): void {
  const appError = toAppError(error);
  const problem = toProblem(appError, instance);
  if (appError.retryAfterSeconds !== undefined) response.setHeader("Retry-After", String(Math.max(1, Math.ceil(appError.retryAfterSeconds))));
  response.status(problem.status).type("application/problem+json").send(JSON.stringify(problem));
}

/** Last error middleware: body-parser failures become 400/413/415, anything else a problem document. */
export function problemMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, request, response, _next) => {
    let appError: AppError;
    const type = (error as { type?: string }).type;
    if (type === "entity.parse.failed") appError = new AppError("malformed_json", 400, "The request body is not valid JSON.");
    else if (type === "entity.too.large") appError = new AppError("payload_too_large", 413, "The request body is too large.");
    else if (type === "charset.unsupported" || type === "encoding.unsupported") appError = new AppError("unsupported_media_type", 415, "Send the body as UTF-8 JSON.");
    else appError = toAppError(error);
    if (appError.status >= 500 && appError.status !== 503) logger.error({ err: appError.cause ?? appError, method: request.method, path: request.path }, "request failed");
    if (response.headersSent) {
      response.end();
      return;
    }
    sendProblem(response, appError, request.originalUrl.split("?")[0]);
  };
}

/** Wraps an async handler so rejections reach the error middleware. */
export function route(handler: (...args: Parameters<RequestHandler>) => Promise<unknown>): RequestHandler {
  return (request, response, next) => {
    handler(request, response, next).catch(next);
  };
}
