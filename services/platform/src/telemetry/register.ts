// Preloaded with `node --import @tessera/platform/telemetry/register` so that instrumentation
// patches modules before the service imports them. Silent unless an OTLP endpoint is configured;
// the SDK is imported only then (loading it costs ~50 MB of memory in every process).
import { register } from "node:module";

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const serviceName = process.env.OTEL_SERVICE_NAME;
if (endpoint && process.env.OTEL_SDK_DISABLED !== "true") {
  // ESM modules are only patched through the loader hook.
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
  const { startTelemetry } = await import("./telemetry.ts");
  await startTelemetry({ endpoint, serviceName: serviceName ?? "tessera" });
}
