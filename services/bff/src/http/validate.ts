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

/** Whether a (possibly optional or defaulted) schema takes a number. */
function takesNumber(schema: z.ZodType | undefined): boolean {
  let inner: unknown = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault || inner instanceof z.ZodNullable) inner = inner.unwrap();
  return inner instanceof z.ZodNumber;
}

/** Parses query parameters the same way (unknown parameters are ignored). */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  // Numbers come coerced from text, and Number("") is 0: an empty `?after=` is no number at all.
  if (schema instanceof z.ZodObject && query !== null && typeof query === "object") {
    const shape = schema.shape as Record<string, z.ZodType>;
    const empty = Object.entries(query).filter(([name, value]) => typeof value === "string" && value.trim() === "" && takesNumber(shape[name]));
    if (empty.length > 0) throw validationFailed(empty.map(([name]) => ({ field: name, message: "Expected a number." })));
  }
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  throw validationFailed(result.error.issues.map((issue) => ({ field: issue.path.join("."), message: issue.message })));
}

export { z };
