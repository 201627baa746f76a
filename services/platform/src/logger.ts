import { trace } from "@opentelemetry/api";
import { pino, type Logger } from "pino";

export type { Logger };

// Anything that could hold a secret is censored wherever it appears in a log object.
const redactPaths = [
  "password",
  "currentPassword",
  "newPassword",
  "token",
  "accessToken",
  "refreshToken",
  "apiKey",
  "key",
  "secret",
  "authorization",
  "cookie",
  "*.password",
  "*.currentPassword",
  "*.newPassword",
  "*.token",
  "*.accessToken",
  "*.refreshToken",
  "*.apiKey",
  "*.secret",
  "*.authorization",
  "*.cookie",
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  'headers["x-csrf-token"]',
  "req.headers.authorization",
  "req.headers.cookie",
];

/** JSON logger with trace correlation and secret redaction. */
export function createLogger(service: string, level = "info"): Logger {
  return pino({
    name: service,
    level,
    redact: { paths: redactPaths, censor: "[redacted]" },
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const context = span.spanContext();
      return { trace_id: context.traceId, span_id: context.spanId };
    },
  });
}
