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
  type ClientReadableStream,
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
 * The context of one inbound call. Its AbortSignal is made only when a handler reads it (most
 * never do): aborted when the client cancels or the deadline passes — grpc-js ends a call at its
 * deadline and reports it cancelled — but never once the handler has finished (grpc-js reports
 * every ended call as "cancelled" too).
 */
class InboundContext implements CallContext {
  readonly metadata: Metadata;
  readonly bearerToken: string | undefined;
  readonly requestId: string | undefined;
  finished = false;
  #call: CancellableCall;
  #controller: AbortController | undefined;

  constructor(call: CancellableCall, bearerToken: string | undefined) {
    this.#call = call;
    this.metadata = call.metadata;
    this.bearerToken = bearerToken;
    const requestId = call.metadata.get("x-request-id")[0];
    this.requestId = typeof requestId === "string" && requestId ? requestId : undefined;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = (this.#controller = new AbortController());
      if (!this.finished) {
        if (this.#call.cancelled) controller.abort();
        else this.#call.once("cancelled", () => !this.finished && controller.abort());
      }
    }
    return this.#controller.signal;
  }
}

interface CancellableCall {
  metadata: Metadata;
  cancelled: boolean;
  once(event: "cancelled", listener: () => void): unknown;
}

/** The bearer token of the gRPC call being served, so calls made on its behalf can forward it (see forwardCaller). */
const inboundCall = new AsyncLocalStorage<{ bearerToken: string | undefined }>();

function bearerTokenOf(metadata: Metadata): string | undefined {
  const authorization = metadata.get("authorization")[0];
  return typeof authorization === "string" && authorization.startsWith("Bearer ") ? authorization.slice(7) : undefined;
}

/** Whether the call presents the shared internal token (constant-time: it is all that stands between the network and every service). */
function hasInternalToken(metadata: Metadata, wanted: Buffer): boolean {
  const presented = metadata.get("x-internal-token")[0];
  const given = typeof presented === "string" ? presented : "";
  if (Buffer.byteLength(given) !== wanted.length) return false;
  return timingSafeEqual(Buffer.from(given), wanted);
}

/** Runs the handler for the caller of this call: calls it makes forward the caller's token. */
function runFor(context: InboundContext, run: () => Promise<unknown>): Promise<unknown> {
  try {
    // Without a token and outside any call there is nothing to forward: no store to enter.
    const result =
      context.bearerToken === undefined && inboundCall.getStore() === undefined ? run() : inboundCall.run({ bearerToken: context.bearerToken }, run);
    return result instanceof Promise ? result : Promise.resolve(result);
  } catch (error) {
    return Promise.reject(error);
  }
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
  const internalToken = Buffer.from(options.internalToken);
  for (const [name, method] of Object.entries(definition)) {
    const handler = handlers[name as keyof D] as unknown as ((...args: unknown[]) => Promise<unknown>) | undefined;
    // grpc-js answers UNIMPLEMENTED for methods without a handler.
    if (!handler) continue;
    const failed = (error: unknown) => {
      const appError = toAppError(error);
      logFailure(options.logger, method.path, appError);
      return appError;
    };
    if (method.responseStream) {
      implementation[name] = (call: ServerWritableStream<unknown, unknown>) => {
        const fail = (error: unknown) => {
          const appError = failed(error);
          if (!call.cancelled) call.emit("error", toGrpcError(appError));
        };
        if (!hasInternalToken(call.metadata, internalToken)) return fail(unauthenticated("Unknown caller.", "unknown_caller"));
        const context = new InboundContext(call, bearerTokenOf(call.metadata));
        const emit = (message: unknown) => call.write(message);
        runFor(context, () => handler(call.request, emit, context)).then(
          () => {
            context.finished = true;
            call.end();
          },
          (error: unknown) => {
            context.finished = true;
            fail(error);
          },
        );
      };
    } else {
      implementation[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        if (!hasInternalToken(call.metadata, internalToken)) return callback(toGrpcError(failed(unauthenticated("Unknown caller.", "unknown_caller"))));
        const context = new InboundContext(call, bearerTokenOf(call.metadata));
        runFor(context, () => handler(call.request, context)).then(
          (response) => {
            context.finished = true;
            callback(null, response);
          },
          (error: unknown) => {
            context.finished = true;
            callback(toGrpcError(failed(error)));
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
  // Channelz (call counters for grpc's admin service, which we do not run) costs CPU on every call.
  const server = new Server({ "grpc.keepalive_permit_without_calls": 1, "grpc.enable_channelz": 0 });
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

/**
 * Channel options of every client. Channelz (call counters for grpc's admin service, which we do
 * not run) costs CPU on every call.
 */
export const CLIENT_CHANNEL_OPTIONS = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc.initial_reconnect_backoff_ms": 200,
  "grpc.enable_channelz": 0,
} as const;

/**
 * grpc-js records the caller's stack (`new Error()`) on every call to append it to a failure's
 * stack: ~5–15 µs of CPU per call. Our clients turn failures into AppErrors anyway, so calls are
 * made without it (the error keeps its own stack).
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A server stream as an async iterator: messages in order, then the end or the failure (as an
 * AppError). A reader that stops early cancels the rest; a finished call needs nothing. Reads the
 * call's events directly (no stream iterator and generator on top of each other, one promise per
 * message at most) and pauses the call while 16 messages wait unread.
 */
function iterate<T>(call: ClientReadableStream<T>, callee: string): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let failure: unknown;
  let failed = false;
  let finished = false;
  let ended = false;
  let paused = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  call.on("data", (message: T) => {
    queue.push(message);
    if (queue.length >= 16 && !paused) {
      paused = true;
      call.pause();
    }
    notify();
  });
  call.on("end", () => {
    finished = true;
    notify();
  });
  call.on("error", (error) => {
    if (!failed) {
      failed = true;
      failure = error;
    }
    finished = true;
    notify();
  });
  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (ended) return { done: true, value: undefined };
        if (queue.length > 0) {
          const value = queue.shift()!;
          if (paused && queue.length < 8) {
            paused = false;
            call.resume();
          }
          return { done: false, value };
        }
        // Messages still buffered in the call come before its end or failure.
        if (call.readableLength > 0) {
          if (paused) {
            paused = false;
            call.resume();
          }
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        if (failed) {
          ended = true;
          throw fromGrpcError(failure, callee);
        }
        if (finished) {
          ended = true;
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return(): Promise<IteratorResult<T>> {
      if (!ended) {
        ended = true;
        call.cancel();
      }
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** A promise-based client for a ts-proto service definition, with a deadline on every call. */
export function createGrpcClient<D extends AnyDefinition>(definition: D, options: GrpcClientOptions): GrpcClient<D> {
  const Constructor = makeGenericClientConstructor(definition as unknown as ServiceDefinition, options.name);
  const raw = new Constructor(options.address, credentials.createInsecure(), CLIENT_CHANNEL_OPTIONS);
  const defaultDeadlineMs = options.defaultDeadlineMs ?? 5_000;
  // grpc-js changes the metadata of a call, so each call gets its own copy of a prepared one:
  // copying skips the validation of every value, and the same token comes with many calls.
  const anonymous = new Metadata();
  anonymous.set("x-internal-token", options.internalToken);
  const withToken = new Map<string, Metadata>();
  const preparedFor = (token: string) => {
    let prepared = withToken.get(token);
    if (!prepared) {
      if (withToken.size >= 256) withToken.clear();
      prepared = anonymous.clone();
      prepared.set("authorization", `Bearer ${token}`);
      withToken.set(token, prepared);
    }
    return prepared;
  };
  const metadataFor = (callOptions: CallOptions | undefined) => {
    const token = callOptions?.accessToken ?? (options.forwardCaller ? inboundCall.getStore()?.bearerToken : undefined);
    const metadata = (token ? preparedFor(token) : anonymous).clone();
    if (callOptions?.requestId) metadata.set("x-request-id", callOptions.requestId);
    return metadata;
  };
  const client: Record<string, unknown> = { raw, close: () => raw.close() };
  for (const [name, method] of Object.entries(definition)) {
    const { path, requestSerialize, responseDeserialize } = method;
    if (method.responseStream) {
      client[name] = (request: unknown, callOptions?: CallOptions) => {
        const callOptionsOfGrpc = { deadline: Date.now() + (callOptions?.deadlineMs ?? 10 * 60_000) };
        const metadata = metadataFor(callOptions);
        const call = withoutCallerStack(() => raw.makeServerStreamRequest(path, requestSerialize, responseDeserialize, request, metadata, callOptionsOfGrpc));
        callOptions?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        return iterate(call, options.name);
      };
    } else {
      client[name] = (request: unknown, callOptions?: CallOptions) =>
        new Promise((resolve, reject) => {
          const callOptionsOfGrpc = { deadline: Date.now() + (callOptions?.deadlineMs ?? defaultDeadlineMs) };
          const metadata = metadataFor(callOptions);
          const call = withoutCallerStack(() =>
            raw.makeUnaryRequest(path, requestSerialize, responseDeserialize, request, metadata, callOptionsOfGrpc, (error, response) =>
              error ? reject(fromGrpcError(error, options.name)) : resolve(response),
            ),
          );
          callOptions?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        });
    }
  }
  return client as GrpcClient<D>;
}

export { GrpcStatus };
