import { z } from "zod";

export { z };

const secretSchemas = new WeakSet<z.ZodType>();

/**
 * Marks the committed development secrets (`.env.compose`, the k8s dev overlay's
 * `secrets.dev.env`): a secret containing it, or a key of a keyring decoding to text containing it,
 * is refused unless TESSERA_MODE=development.
 */
export const DEVELOPMENT_SECRET_MARKER = "insecure-dev";
const PLACEHOLDER = /change-me|REPLACE_WITH/i;

/** Whether a secret is one of the committed, obviously-development values (see DEVELOPMENT_SECRET_MARKER). */
export function isDevelopmentSecret(value: string): boolean {
  if (value.toLowerCase().includes(DEVELOPMENT_SECRET_MARKER)) return true;
  // Keyrings (`id:base64,…`) carry the marker inside the key bytes.
  return value.split(",").some((entry) => Buffer.from(entry.slice(entry.indexOf(":") + 1).trim(), "base64").toString("latin1").toLowerCase().includes(DEVELOPMENT_SECRET_MARKER));
}

/**
 * A secret variable: never a placeholder from `.env.example`; an obviously-development value only
 * in development mode (checked by parseConfig, which knows the mode).
 */
export function secretEnv<T extends z.ZodType>(schema: T): T {
  secretSchemas.add(schema);
  return schema;
}

/** The problems of secret values for this mode, one message per variable. */
function secretProblems(shape: z.ZodRawShape, values: Record<string, unknown>, mode: string | undefined): Array<{ name: string; message: string }> {
  const problems: Array<{ name: string; message: string }> = [];
  for (const [name, schema] of Object.entries(shape)) {
    const value = values[name];
    if (!secretSchemas.has(schema as z.ZodType) || typeof value !== "string") continue;
    if (PLACEHOLDER.test(value)) problems.push({ name, message: "still the placeholder from .env.example: generate a secret" });
    else if (mode !== "development" && isDevelopmentSecret(value))
      problems.push({ name, message: `a committed development value (marked "${DEVELOPMENT_SECRET_MARKER}"), refused unless TESSERA_MODE=development: generate a secret` });
  }
  return problems;
}

/** The parsed environment, or one line per bad variable (schema errors, placeholders, development secrets outside development mode). */
export function checkConfig<T extends z.ZodRawShape>(shape: T, env: NodeJS.ProcessEnv): { values: z.infer<z.ZodObject<T>>; problems: [] } | { values: undefined; problems: string[] } {
  const result = z.object(shape).safeParse(env);
  const problems = result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  const values = (result.success ? result.data : env) as Record<string, unknown>;
  for (const problem of secretProblems(shape, values, typeof values.TESSERA_MODE === "string" ? values.TESSERA_MODE : undefined)) {
    if (!problems.some((line) => line.startsWith(`${problem.name}:`))) problems.push(`${problem.name}: ${problem.message}`);
  }
  return result.success && problems.length === 0 ? { values: result.data, problems: [] } : { values: undefined, problems };
}

/** Parses the environment with a schema once; on failure prints every bad variable and exits 1. */
export function parseConfig<T extends z.ZodRawShape>(
  service: string,
  shape: T,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<z.ZodObject<T>>> {
  const checked = checkConfig(shape, env);
  if (checked.values === undefined) {
    process.stderr.write(`${service}: invalid configuration\n${checked.problems.map((line) => `  ${line}`).join("\n")}\n`);
    process.exit(1);
  }
  return Object.freeze(checked.values);
}

const urlWithScheme = (schemes: string[], example: string) =>
  z
    .string({ error: `required, e.g. ${example}` })
    .refine((value) => {
      try {
        const url = new URL(value);
        return schemes.includes(url.protocol) && url.hostname.length > 0;
      } catch {
        return false;
      }
    }, `must be a ${schemes.join(" or ")}// URL, e.g. ${example}`);

/** Environment variables shared by the services; each service picks what it uses. */
export const env = {
  mongoUrl: urlWithScheme(["mongodb:", "mongodb+srv:"], "mongodb://127.0.0.1:27017/tessera"),
  redisUrl: urlWithScheme(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  amqpUrl: urlWithScheme(["amqp:", "amqps:"], "amqp://guest:guest@127.0.0.1:5672"),
  httpUrl: (example: string) => urlWithScheme(["http:", "https:"], example),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  address: (fallback: string) =>
    z
      .string()
      .regex(/^[A-Za-z0-9.\-_[\]:]+:\d+$/, "must be host:port")
      .default(fallback),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  duration: (fallbackMs: number) => z.coerce.number().int().positive().default(fallbackMs),
  list: z
    .string()
    .default("")
    .transform((value) =>
      value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    ),
  optionalString: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value === "" ? undefined : value)),
};
