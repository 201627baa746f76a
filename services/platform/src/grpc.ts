import { AsyncLocalStorage } from "node:async_hooks";
import { timingSafeEqual } from "node:crypto";
import {
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  makeGenericClientConstructor,
  status as GrpcStatus,
  type Client,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { AppError, fromGrpcError, toAppError, toGrpcError, unauthenticated } from "./errors.ts";
import type { Logger } from "./logger.ts";

/** What a handler knows about the call besides its request. */
export interface CallContext {
  metadata: Metadata;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /** The bearer token from "authorization" metadata, if any. */
  bearerToken: string | undefined;
  /** The public request this call serves ("x-request-id" metadata), for audit records and logs. */
  requestId: string | undefined;
}

interface MethodDefinition<Req, Res> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: Req) => Buffer;
  requestDeserialize: (value: Buffer) => Req;
  responseSerialize: (value: Res) => Buffer;
  responseDeserialize: (value: Buffer) => Res;
}

type AnyDefinition = Record<string, MethodDefinition<any, any>>;
type RequestOf<M> = M extends MethodDefinition<infer Req, any> ? Req : never;
type ResponseOf<M> = M extends MethodDefinition<any, infer Res> ? Res : never;

/** A service implementation: unary methods return the response, streaming ones write through `emit`. */
export type ServiceHandlers<D extends AnyDefinition> = {
  [K in keyof D]: D[K] extends { responseStream: true }
    ? (request: RequestOf<D[K]>, emit: (message: ResponseOf<D[K]>) => void, context: CallContext) => Promise<void>
    : (request: RequestOf<D[K]>, context: CallContext) => Promise<ResponseOf<D[K]>>;
};

export interface GrpcServerOptions {
  logger: Logger;
  /** Shared secret every caller must present as "x-internal-token": only our services may call. */
  internalToken: string;
}

/**
 * The context of one inbound call, and `finish` for when its handler is done. grpc-js reports
 * every ended call as "cancelled" too: only a cancel before the handler finished aborts it.
 */
function contextOf(call: { metadata: Metadata; cancelled: boolean; on(event: "cancelled", listener: () => void): unknown; getDeadline(): Date | number }): {
  context: CallContext;
  finish(): void;
} {
  const controller = new AbortController();
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  call.on("cancelled", () => {
    if (!finished) controller.abort();
  });
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(deadlineMs) && deadlineMs > 0) {
    timer = setTimeout(() => controller.abort(), Math.max(0, deadlineMs - Date.now()));
    timer.unref();
    controller.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }
  const authorization = call.metadata.get("authorization")[0];
  const bearerToken = typeof authorization === "string" && authorization.startsWith("Bearer ") ? authorization.slice(7) : undefined;
  const requestId = call.metadata.get("x-request-id")[0];
  return {
    context: { metadata: call.metadata, signal: controller.signal, bearerToken, requestId: typeof requestId === "string" && requestId ? requestId : undefined },
    finish() {
      finished = true;
      clearTimeout(timer);
    },
  };
}

/** The bearer token of the gRPC call being served, so calls made on its behalf can forward it (see forwardCaller). */
const inboundCall = new AsyncLocalStorage<{ bearerToken: string | undefined }>();

function checkInternalToken(metadata: Metadata, expected: string): void {
  const presented = metadata.get("x-internal-token")[0];
  // Constant-time comparison: the token is the only thing between the network and every service.
  const given = Buffer.from(typeof presented === "string" ? presented : "");
  const wanted = Buffer.from(expected);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw unauthenticated("Unknown caller.", "unknown_caller");
}

function logFailure(logger: Logger, path: string, error: AppError): void {
  if (error.status >= 500 && error.status !== 503) logger.error({ err: error.cause ?? error, method: path }, "grpc call failed");
  else logger.debug({ code: error.code, method: path }, "grpc call rejected");
}

/** Wraps typed async handlers into grpc-js handlers with error translation and caller checks. */
export function implement<D extends AnyDefinition>(
  definition: D,
  handlers: Partial<ServiceHandlers<D>>,
  options: GrpcServerOptions,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = handlers[name as keyof D] as unknown as ((...args: unknown[]) => Promise<unknown>) | undefined;
    // grpc-js answers UNIMPLEMENTED for methods without a handler.
    if (!handler) continue;
    if (method.responseStream) {
      implementation[name] = (call: ServerWritableStream<unknown, unknown>) => {
        const { context, finish } = contextOf(call);
        Promise.resolve()
          .then(() => checkInternalToken(call.metadata, options.internalToken))
          .then(() => inboundCall.run({ bearerToken: context.bearerToken }, () => handler(call.request, (message: unknown) => call.write(message), context)))
          .finally(finish)
          .then(
            () => call.end(),
            (error: unknown) => {
              const appError = toAppError(error);
              logFailure(options.logger, method.path, appError);
              if (!call.cancelled) call.emit("error", toGrpcError(appError));
            },
          );
      };
    } else {
      implementation[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const { context, finish } = contextOf(call);
        Promise.resolve()
          .then(() => checkInternalToken(call.metadata, options.internalToken))
          .then(() => inboundCall.run({ bearerToken: context.bearerToken }, () => handler(call.request, context)))
          .finally(finish)
          .then(
            (response) => callback(null, response),
            (error: unknown) => {
              const appError = toAppError(error);
              logFailure(options.logger, method.path, appError);
              callback(toGrpcError(appError));
            },
          );
      };
    }
  }
  return implementation;
}

/** Starts a gRPC server on the port (0 picks one) and resolves with the bound port. */
export async function startGrpcServer(
  port: number,
  services: Array<{ definition: ServiceDefinition; implementation: UntypedServiceImplementation }>,
  host = "0.0.0.0",
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = new Server({ "grpc.keepalive_permit_without_calls": 1 });
  for (const service of services) server.addService(service.definition, service.implementation);
  const boundPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const close = () =>
    new Promise<void>((resolve) => {
      // Finish in-flight calls; force after 10 s so shutdown cannot hang.
      const force = setTimeout(() => server.forceShutdown(), 10_000);
      force.unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  return { server, port: boundPort, close };
}

export interface CallOptions {
  /** Access token of the user this call acts for. */
  accessToken?: string | undefined;
  /** The public request this call serves, passed on as "x-request-id". */
  requestId?: string | undefined;
  deadlineMs?: number;
  signal?: AbortSignal;
}

type UnaryClient<D extends AnyDefinition> = {
  [K in keyof D as D[K] extends { responseStream: true } ? never : K]: (request: RequestOf<D[K]>, options?: CallOptions) => Promise<ResponseOf<D[K]>>;
};

type StreamClient<D extends AnyDefinition> = {
  [K in keyof D as D[K] extends { responseStream: true } ? K : never]: (request: RequestOf<D[K]>, options?: CallOptions) => AsyncIterable<ResponseOf<D[K]>>;
};

export type GrpcClient<D extends AnyDefinition> = UnaryClient<D> & StreamClient<D> & { readonly raw: Client; close(): void };

export interface GrpcClientOptions {
  /** Name of the callee for error messages ("identity"). */
  name: string;
  address: string;
  internalToken: string;
  defaultDeadlineMs?: number;
  /**
   * Calls made while serving a call act for the same caller: its bearer token is forwarded unless
   * the call names one. Domain code then never holds a credential.
   */
  forwardCaller?: boolean;
}

/** A promise-based client for a ts-proto service definition, with a deadline on every call. */
export function createGrpcClient<D extends AnyDefinition>(definition: D, options: GrpcClientOptions): GrpcClient<D> {
  const Constructor = makeGenericClientConstructor(definition as unknown as ServiceDefinition, options.name);
  const raw = new Constructor(options.address, credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.max_reconnect_backoff_ms": 2_000,
    "grpc.initial_reconnect_backoff_ms": 200,
  });
  const defaultDeadlineMs = options.defaultDeadlineMs ?? 5_000;
  const metadataFor = (callOptions: CallOptions | undefined) => {
    const metadata = new Metadata();
    metadata.set("x-internal-token", options.internalToken);
    const token = callOptions?.accessToken ?? (options.forwardCaller ? inboundCall.getStore()?.bearerToken : undefined);
    if (token) metadata.set("authorization", `Bearer ${token}`);
    if (callOptions?.requestId) metadata.set("x-request-id", callOptions.requestId);
    return metadata;
  };
  const client: Record<string, unknown> = { raw, close: () => raw.close() };
  for (const [name, method] of Object.entries(definition)) {
    if (method.responseStream) {
      client[name] = (request: unknown, callOptions?: CallOptions) => {
        const deadline = Date.now() + (callOptions?.deadlineMs ?? 10 * 60_000);
        const call = raw.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, metadataFor(callOptions), {
          deadline,
        });
        callOptions?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        return (async function* () {
          let ended = false;
          try {
            for await (const message of call) yield message;
            ended = true;
          } catch (error) {
            ended = true;
            throw fromGrpcError(error, options.name);
          } finally {
            // A reader that stopped early cancels the rest; a finished call needs nothing.
            if (!ended) call.cancel();
          }
        })();
      };
    } else {
      client[name] = (request: unknown, callOptions?: CallOptions) =>
        new Promise((resolve, reject) => {
          const deadline = Date.now() + (callOptions?.deadlineMs ?? defaultDeadlineMs);
          const call = raw.makeUnaryRequest(
            method.path,
            method.requestSerialize,
            method.responseDeserialize,
            request,
            metadataFor(callOptions),
            { deadline },
            (error, response) => (error ? reject(fromGrpcError(error, options.name)) : resolve(response)),
          );
          callOptions?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        });
    }
  }
  return client as GrpcClient<D>;
}

export { GrpcStatus };
