import type { RequestHandler } from "express";
import { overloaded, type AdmissionLimit } from "@tessera/platform";

/**
 * Admits the request within the bound or refuses it at once with 503 `overloaded` and
 * Retry-After (in the format of the router's error middleware). An admitted request holds its
 * slot until its response has ended or its client has gone away: the response's `close`, which
 * comes once in every case (answered, failed, aborted), even while the handler still awaits.
 */
export function admit(limit: AdmissionLimit): RequestHandler {
  return (_request, response, next) => {
    const release = limit.tryAcquire();
    if (!release) return next(overloaded());
    response.once("close", release);
    next();
  };
}
