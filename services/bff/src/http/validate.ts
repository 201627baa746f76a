import { validationFailed } from "@tessera/platform";
import { z } from "zod";

/** Parses a body with a strict schema: unknown fields and wrong types become 400 with every bad field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw validationFailed([{ field: "", message: "Send a JSON object (Content-Type: application/json)." }]);
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ field: [...issue.path, key].join("."), message: "Unknown field." }));
    return [{ field: issue.path.join("."), message: issue.message }];
  });
  throw validationFailed(errors);
}

/** Parses query parameters the same way (unknown parameters are ignored). */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  throw validationFailed(result.error.issues.map((issue) => ({ field: issue.path.join("."), message: issue.message })));
}

export { z };
