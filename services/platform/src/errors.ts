import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";

export interface FieldError {
  field: string;
  message: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  expose?: boolean;
  errors?: FieldError[];
  /** Extra members for the problem document (e.g. quota limits). */
  extensions?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/** The one error family: a stable snake_case code, an HTTP-like status, and whether the message may reach clients. */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly errors: FieldError[] | undefined;
  readonly extensions: Record<string, unknown> | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: string, status: number, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.status = status;
    this.expose = options.expose ?? status < 500;
    this.errors = options.errors;
    this.extensions = options.extensions;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const validationFailed = (errors: FieldError[], message = "The request is not valid.") =>
  new AppError("validation_failed", 400, message, { errors });
export const unauthenticated = (message = "Sign in to continue.", code = "unauthenticated") =>
  new AppError(code, 401, message);
export const forbidden = (message = "You are not allowed to do this.", code = "forbidden") =>
  new AppError(code, 403, message);
export const notFound = (what = "resource") => new AppError("not_found", 404, `The ${what} does not exist.`);
export const conflict = (code: string, message: string, errors?: FieldError[]) =>
  new AppError(code, 409, message, errors ? { errors } : {});
export const tooManyRequests = (message: string, retryAfterSeconds: number, code = "too_many_requests", extensions?: Record<string, unknown>) =>
  new AppError(code, 429, message, { retryAfterSeconds, ...(extensions ? { extensions } : {}) });
export const unavailable = (what: string, cause?: unknown, retryAfterSeconds = 2) =>
  new AppError("unavailable", 503, `${what} is unavailable; try again shortly.`, { cause, expose: true, retryAfterSeconds });
export const internal = (cause: unknown) =>
  new AppError("internal", 500, "Something went wrong on our side.", { cause, expose: false });

const statusToGrpc: Record<number, GrpcStatus> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.NOT_FOUND,
  409: GrpcStatus.ALREADY_EXISTS,
  412: GrpcStatus.FAILED_PRECONDITION,
  429: GrpcStatus.RESOURCE_EXHAUSTED,
  499: GrpcStatus.CANCELLED,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.DEADLINE_EXCEEDED,
};

const grpcToStatus: Partial<Record<GrpcStatus, number>> = {
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.UNAUTHENTICATED]: 401,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.FAILED_PRECONDITION]: 412,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
};

const ERROR_METADATA_KEY = "x-app-error-bin";

const OUTAGE_NAMES = /MongoNetwork|MongoServerSelection|MongoNotConnected|MongoTopologyClosed|PoolClosed|MongoPoolCleared|MaxRetriesPerRequest/;
// Connection failures as the drivers, FerretDB (PostgreSQL underneath) and ioredis word them.
const OUTAGE_MESSAGES =
  /buffering timed out|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|connection refused|connection reset|failed to connect|terminating connection|server closed the connection|the database system is (starting up|shutting down|in recovery mode)|SQLSTATE 57P0|SQLSTATE 08|Connection is closed|Stream isn't writeable|connection pool .*closed/i;

/** Whether an error means "a data store or broker cannot be reached right now" (answered 503, retried). */
export function isOutage(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const { name, message, code } = error as { name?: unknown; message?: unknown; code?: unknown };
  if (typeof name === "string" && OUTAGE_NAMES.test(name)) return true;
  // HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, InterruptedAtShutdown.
  if (code === 6 || code === 7 || code === 89 || code === 91 || code === 11600) return true;
  if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|57P0\d|08\d\d\d)$/.test(code)) return true;
  return typeof message === "string" && OUTAGE_MESSAGES.test(message);
}

/**
 * Turns any thrown value into an AppError: the one translation, so an unreachable store is a 503
 * with Retry-After everywhere and unknown errors become an unexposed internal error.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isOutage(error)) return unavailable("A data store", error);
  return internal(error);
}

/** The one translation of an AppError into a gRPC status; exposed details travel in binary metadata. */
export function toGrpcError(error: unknown): Partial<ServiceError> {
  const appError = toAppError(error);
  const metadata = new Metadata();
  const body = {
    code: appError.code,
    status: appError.status,
    message: appError.expose ? appError.message : "internal error",
    errors: appError.expose ? appError.errors : undefined,
    extensions: appError.expose ? appError.extensions : undefined,
    retryAfterSeconds: appError.retryAfterSeconds,
  };
  metadata.set(ERROR_METADATA_KEY, Buffer.from(JSON.stringify(body)));
  return {
    code: statusToGrpc[appError.status] ?? GrpcStatus.INTERNAL,
    details: body.message,
    metadata,
  };
}

/** The inverse on the client side: a gRPC failure back into the AppError the server raised. */
export function fromGrpcError(error: unknown, callee: string): AppError {
  const serviceError = error as Partial<ServiceError>;
  if (typeof serviceError?.code !== "number") return internal(error);
  const raw = serviceError.metadata?.get(ERROR_METADATA_KEY)[0];
  if (raw instanceof Buffer) {
    try {
      const body = JSON.parse(raw.toString("utf8")) as {
        code: string;
        status: number;
        message: string;
        errors?: FieldError[];
        extensions?: Record<string, unknown>;
        retryAfterSeconds?: number;
      };
      return new AppError(body.code, body.status, body.message, {
        cause: error,
        expose: body.status < 500 || body.status === 503,
        ...(body.errors ? { errors: body.errors } : {}),
        ...(body.extensions ? { extensions: body.extensions } : {}),
        ...(body.retryAfterSeconds !== undefined ? { retryAfterSeconds: body.retryAfterSeconds } : {}),
      });
    } catch {
      // fall through to the status mapping
    }
  }
  if (serviceError.code === GrpcStatus.UNAVAILABLE || serviceError.code === GrpcStatus.DEADLINE_EXCEEDED) {
    return unavailable(`The ${callee} service`, error);
  }
  const status = grpcToStatus[serviceError.code as GrpcStatus] ?? 500;
  return new AppError(status >= 500 ? "internal" : "upstream_error", status, serviceError.details ?? "error", {
    cause: error,
  });
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  499: "Client Closed Request",
  500: "Internal Server Error",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export const problemTypeBase = "https://tessera.dev/problems/";

/** The one translation of an AppError into an RFC 9457 problem document. */
export function toProblem(error: unknown, instance?: string): ProblemDocument {
  const appError = toAppError(error);
  const exposed = appError.expose;
  const status = appError.status === 499 ? 400 : appError.status;
  return {
    ...(exposed ? appError.extensions : {}),
    type: `${problemTypeBase}${exposed ? appError.code : "internal"}`,
    title: titles[status] ?? "Error",
    status,
    detail: exposed ? appError.message : "Something went wrong on our side.",
    ...(exposed && appError.errors ? { errors: appError.errors } : {}),
    ...(instance ? { instance } : {}),
  };
}
