import type { FieldProblem, Problem } from './types.ts';

/** Problem `type` used for failures that never reached the server (offline, DNS, CORS…). */
export const NETWORK_PROBLEM_TYPE = 'tessera:network-error';

/** An API call that failed: carries the RFC 9457 problem the server answered with. */
export class ApiError extends Error {
	readonly status: number;
	readonly problem: Problem;
	/** Seconds from the `Retry-After` header, when the server sent one. */
	readonly retryAfter: number | null;

	constructor(problem: Problem, retryAfter: number | null = null) {
		super(problem.detail || problem.title || `HTTP ${problem.status}`);
		this.name = 'ApiError';
		this.status = problem.status;
		this.problem = problem;
		this.retryAfter = retryAfter;
	}

	get type(): string {
		return this.problem.type;
	}

	/** True when the request never got an HTTP answer. */
	get isNetworkError(): boolean {
		return this.problem.type === NETWORK_PROBLEM_TYPE;
	}

	/** True for the CSRF rejection that warrants fetching a new token and retrying. */
	get isCsrfFailure(): boolean {
		return this.status === 403 && /csrf_failed$/.test(this.problem.type);
	}

	/** Validation messages, first message per field. */
	get fieldErrors(): Record<string, string> {
		const out: Record<string, string> = {};
		for (const e of this.problem.errors ?? []) {
			if (e.field && !(e.field in out)) out[e.field] = e.message;
		}
		return out;
	}

	/** The human-readable text of the problem: `detail`, else `title`. */
	get summary(): string {
		return this.problem.detail || this.problem.title || '';
	}
}

export function isApiError(value: unknown): value is ApiError {
	return value instanceof ApiError;
}

function isFieldProblem(value: unknown): value is FieldProblem {
	return (
		typeof value === 'object' &&
		value !== null &&
		typeof (value as FieldProblem).field === 'string' &&
		typeof (value as FieldProblem).message === 'string'
	);
}

/** Builds a well-formed problem from whatever a failed response carried. */
export function toProblem(body: unknown, status: number, statusText: string): Problem {
	const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
	const problem: Problem = {
		type: typeof b.type === 'string' && b.type ? b.type : 'about:blank',
		title: typeof b.title === 'string' && b.title ? b.title : statusText,
		status: typeof b.status === 'number' ? b.status : status,
		detail: typeof b.detail === 'string' ? b.detail : ''
	};
	if (typeof b.instance === 'string') problem.instance = b.instance;
	if (Array.isArray(b.errors)) problem.errors = b.errors.filter(isFieldProblem);
	return problem;
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
	if (!value) return null;
	const trimmed = value.trim();
	if (/^\d+$/.test(trimmed)) return Number(trimmed);
	const at = Date.parse(trimmed);
	if (Number.isNaN(at)) return null;
	return Math.max(0, Math.ceil((at - now) / 1000));
}
