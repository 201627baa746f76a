import { z } from "zod";

export { z };

/** Parses the environment with a schema once; on failure prints every bad variable and exits 1. */
export function parseConfig<T extends z.ZodRawShape>(
  service: string,
  shape: T,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<z.ZodObject<T>>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    process.stderr.write(`${service}: invalid configuration\n${lines.join("\n")}\n`);
    process.exit(1);
  }
  return Object.freeze(result.data);
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
