import { validationFailed } from "@tessera/platform";
import { z } from "zod";

const NUL = "\u0000";

/** Where in a value a NUL character hides ("" for the value itself), if anywhere. */
export function nulField(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return value.includes(NUL) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = nulField(item, path ? `${path}.${index}` : String(index));
      if (found !== undefined) return found;
    }
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const field = path ? `${path}.${key}` : key;
      if (key.includes(NUL)) return field;
      const found = nulField(item, field);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

const nulProblem = (field: string) => validationFailed([{ field, message: "NUL characters are not allowed." }]);

/** Parses a body with a strict schema: unknown fields and wrong types become 400 with every bad field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw validationFailed([{ field: "", message: "Send a JSON object (Content-Type: application/json)." }]);
  }
  // The document store cannot keep a NUL: refused here, before anything is written.
  const withNul = nulField(body);
  if (withNul !== undefined) throw nulProblem(withNul);
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
