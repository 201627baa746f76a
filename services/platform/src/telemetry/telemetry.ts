import { NodeSDK } from "@opentelemetry/sdk-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { ExpressInstrumentation } from "@opentelemetry/instrumentation-express";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { MongooseInstrumentation } from "@opentelemetry/instrumentation-mongoose";
import { AmqplibInstrumentation } from "@opentelemetry/instrumentation-amqplib";
import { PinoInstrumentation } from "@opentelemetry/instrumentation-pino";

/** Starts traces and metrics export over OTLP/HTTP; trace context crosses HTTP, gRPC and AMQP. */
export async function startTelemetry(options: { endpoint: string; serviceName: string }): Promise<NodeSDK> {
  const base = options.endpoint.replace(/\/$/, "");
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    traceExporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }),
    metricReader: new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
      exportIntervalMillis: 15_000,
    }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => request.url === "/healthz" || request.url === "/readyz" }),
      new ExpressInstrumentation(),
      new GrpcInstrumentation({ ignoreGrpcMethods: ["Check", "Watch"] }),
      new IORedisInstrumentation(),
      new MongooseInstrumentation(),
      new AmqplibInstrumentation(),
      new PinoInstrumentation(),
    ],
  });
  sdk.start();
  const stop = () => void sdk.shutdown().catch(() => undefined);
  process.once("beforeExit", stop);
  return sdk;
}
