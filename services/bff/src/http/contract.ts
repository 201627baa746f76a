/**
 * The BFF's HTTP contract, declared next to the handlers.
 *
 * Every served route has one `operation({...})` in its route file, exported in that file's
 * `…Operations` list, naming the same zod schemas the handler parses its input with and builds
 * its answer from. `openapi.ts` turns the lists into the OpenAPI document (GET
 * /api/v1/openapi.json); `npm run api` writes it to `web/src/lib/api/` and generates the web
 * client's types from it. `openapi.test.ts` fails when express serves a route that no operation
 * describes (or the other way round). Adding a route therefore means:
 *   1. the zod schemas (body, query, response) as constants in the route file;
 *   2. `operation({ method, path, summary, auth, body?, query?, responses, errors })` in the
 *      file's exported list (add a new list to `openapi.ts`);
 *   3. the handler, parsing with those schemas and typing its answer with `z.output<…>`;
 *   4. `npm run api` and commit the regenerated files.
 */
import { z } from "./validate.ts";

export type Method = "get" | "post" | "put" | "patch" | "delete";

/**
 * Who may call it: `none` (anyone), `browser` (the session cookie; the CSRF token too when the
 * method changes state), `account` (the active account: session cookie or a personal API key as
 * bearer), `apiKey` (a personal API key only, OpenAI-compatible API).
 */
export type Auth = "none" | "browser" | "account" | "apiKey";

/**
 * A response: a JSON body schema, `null` for no body, or bodies by media type (a stream of
 * Server-Sent Events is described as an array of its events under `text/event-stream`).
 */
export type ResponseSpec = z.ZodType | null | { description: string; content: Record<string, z.ZodType> };

export interface Operation {
  method: Method;
  /** The full public path, OpenAPI style: `/api/v1/chats/{id}`. Path parameters are strings. */
  path: string;
  summary: string;
  description?: string;
  auth: Auth;
  /** Query parameters: an object schema whose properties are the parameters. */
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The body may be left out (defaults to required). */
  bodyOptional?: boolean;
  /** Success responses by status, and the rare failure whose body is not a problem (/readyz's 503). */
  responses: Partial<Record<200 | 201 | 204 | 302 | 503, ResponseSpec>>;
  /** Error statuses, answered as RFC 9457 problems (OpenAI's error body on /v1). */
  errors?: number[];
  /**
   * Admitted within the BFF's bound on completions in flight (http/admission.ts): past it the
   * answer is 503 `overloaded` with `Retry-After`, which the document then describes.
   */
  admission?: true;
  /**
   * Where the success answer leads (OpenAPI links, which clients and the fuzzer follow): by name,
   * an operation as "method path" and its path parameters as JSON pointers into the answer's body.
   */
  links?: Record<string, { operation: `${Method} /${string}`; parameters: Record<string, `/${string}`> }>;
}

/** Declares one operation of the public HTTP API (see the note at the top of this file). */
export function operation(spec: Operation): Operation {
  return spec;
}

// ---- Schemas shared by several route files ---------------------------------------------------

/** Opaque pagination cursor of every list (`nextCursor` null on the last page). */
export const nextCursor = z.string().nullable();

/** RFC 9457 problem details, the body of every error on /api/v1. */
export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: "Problem", description: "RFC 9457 problem details; some problems add fields (e.g. `limits`, `used`, `resetAt` on 429 `quota_exceeded`)." });

/** OpenAI's error body on /v1. */
export const OpenAiError = z
  .object({
    error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }).catchall(z.unknown()),
  })
  .meta({ id: "OpenAiError" });

/** A calendar day in the tenant's time zone. */
export const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "Use a date as YYYY-MM-DD.");
