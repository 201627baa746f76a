import { ApiError, NETWORK_PROBLEM_TYPE, parseRetryAfter, toProblem } from './errors.ts';
import type {
	AuthProvider,
	CsrfResponse,
	LoginRequest,
	Me,
	RegisterRequest,
	SignedInAccount,
	UserResponse
} from './types.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
	body?: unknown;
	signal?: AbortSignal;
	headers?: Record<string, string>;
}

const STATE_CHANGING = new Set<Method>(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The one HTTP client of the web app. It talks to the same-origin BFF with relative URLs,
 * sends the session cookie, turns every failure into an {@link ApiError} carrying an
 * RFC 9457 problem, and handles the CSRF token of state-changing requests.
 */
export class ApiClient {
	readonly #base: string;
	readonly #fetch: typeof fetch;
	#csrf: Promise<string> | null = null;

	constructor(base = '/api/v1', fetchImpl: typeof fetch = (...args) => fetch(...args)) {
		this.#base = base.replace(/\/$/, '');
		this.#fetch = fetchImpl;
	}

	// ---- CSRF -----------------------------------------------------------

	/** The CSRF token, fetched on first use and then reused. */
	csrfToken(): Promise<string> {
		if (!this.#csrf) {
			const pending = this.#send<CsrfResponse>('GET', '/auth/csrf', {}, null).then((r) => {
				if (!r || typeof r.token !== 'string' || !r.token) {
					throw new ApiError({
						type: 'about:blank',
						title: 'Missing CSRF token',
						status: 500
					});
				}
				return r.token;
			});
			// a failed fetch must not be remembered
			pending.catch(() => {
				if (this.#csrf === pending) this.#csrf = null;
			});
			this.#csrf = pending;
		}
		return this.#csrf;
	}

	/**
	 * Forgets the CSRF token (it may change when the session changes) and fetches
	 * a new one in the background.
	 */
	refreshCsrf(): void {
		this.#csrf = null;
		this.csrfToken().catch(() => {
			/* fetched again on the next state-changing request */
		});
	}

	// ---- Generic requests -----------------------------------------------

	async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
		if (!STATE_CHANGING.has(method)) return this.#send<T>(method, path, options, null);

		let token = await this.csrfToken();
		try {
			return await this.#send<T>(method, path, options, token);
		} catch (err) {
			if (!(err instanceof ApiError) || !err.isCsrfFailure) throw err;
			// the token expired or the session changed elsewhere: get a new one and retry once
			this.#csrf = null;
			token = await this.csrfToken();
			return this.#send<T>(method, path, options, token);
		}
	}

	get<T>(path: string, options?: RequestOptions) {
		return this.request<T>('GET', path, options);
	}

	post<T>(path: string, body?: unknown, options?: RequestOptions) {
		return this.request<T>('POST', path, { ...options, body });
	}

	async #send<T>(
		method: Method,
		path: string,
		{ body, signal, headers }: RequestOptions,
		csrf: string | null
	): Promise<T> {
		const h: Record<string, string> = { Accept: 'application/json, application/problem+json' };
		if (body !== undefined) h['Content-Type'] = 'application/json';
		if (csrf) h['X-CSRF-Token'] = csrf;
		Object.assign(h, headers);

		let res: Response;
		try {
			res = await this.#fetch(this.#base + path, {
				method,
				headers: h,
				body: body === undefined ? undefined : JSON.stringify(body),
				credentials: 'same-origin',
				cache: 'no-store',
				signal
			});
		} catch (cause) {
			if (signal?.aborted) throw cause;
			throw new ApiError({
				type: NETWORK_PROBLEM_TYPE,
				title: 'Network error',
				status: 0,
				detail: cause instanceof Error ? cause.message : String(cause)
			});
		}

		const payload = await readBody(res);
		if (!res.ok) {
			throw new ApiError(
				toProblem(payload, res.status, res.statusText),
				parseRetryAfter(res.headers.get('Retry-After'))
			);
		}
		return payload as T;
	}

	// ---- Endpoints --------------------------------------------------------

	readonly auth = {
		providers: () => this.get<AuthProvider[]>('/auth/providers'),

		register: async (body: RegisterRequest) => {
			const r = await this.post<UserResponse>('/auth/register', body);
			this.refreshCsrf();
			return r.user;
		},

		login: async (body: LoginRequest) => {
			const r = await this.post<UserResponse>('/auth/login', body);
			this.refreshCsrf();
			return r.user;
		},

		/** Signs out the active account only; other signed-in accounts stay. */
		logout: async () => {
			try {
				await this.post<void>('/auth/logout');
			} finally {
				this.refreshCsrf();
			}
		},

		/** Signs out every account on this device. */
		logoutAll: async () => {
			try {
				await this.post<void>('/auth/logout-all');
			} finally {
				this.refreshCsrf();
			}
		},

		/** Where the browser goes to sign in with an external provider. */
		providerUrl: (providerId: string, returnTo = '/') =>
			`${this.#base}/auth/oauth/${encodeURIComponent(providerId)}/authorize?intent=login&returnTo=${encodeURIComponent(returnTo).replace(/%2F/gi, '/')}`
	};

	readonly me = () => this.get<Me>('/me');

	readonly accounts = {
		list: () => this.get<SignedInAccount[]>('/accounts'),

		switch: async (userId: string) => {
			const r = await this.post<UserResponse>('/accounts/switch', { userId });
			this.refreshCsrf();
			return r.user;
		}
	};
}

async function readBody(res: Response): Promise<unknown> {
	if (res.status === 204 || res.status === 205) return undefined;
	const text = await res.text().catch(() => '');
	if (!text) return undefined;
	const type = res.headers.get('Content-Type') ?? '';
	if (/[/+]json\b/i.test(type) || /^\s*[[{]/.test(text)) {
		try {
			return JSON.parse(text);
		} catch {
			return text;
		}
	}
	return text;
}

/** The app-wide API client. */
export const api = new ApiClient();
