import { ApiError, NETWORK_PROBLEM_TYPE, parseRetryAfter, toProblem } from './errors.ts';
import type {
	ApiPath,
	Body,
	ChatStreamEvent,
	MethodOf,
	PathParams,
	Query,
	Reply
} from './types.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
	body?: unknown;
	signal?: AbortSignal;
	headers?: Record<string, string>;
}

/** Options of a typed call: path parameters, query and body as the OpenAPI document says. */
export type CallOptions<P extends ApiPath, M extends MethodOf<P>> = {
	signal?: AbortSignal;
} & ([PathParams<P, M>] extends [never] ? { params?: never } : { params: PathParams<P, M> }) &
	([Query<P, M>] extends [never | undefined] ? { query?: never } : { query?: Query<P, M> }) &
	([Body<P, M>] extends [never] ? { body?: never } : { body?: Body<P, M> });

const STATE_CHANGING = new Set<Method>(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The one HTTP client of the web app. It talks to the same-origin BFF with relative URLs,
 * sends the session cookie, turns every failure into an {@link ApiError} carrying an
 * RFC 9457 problem, and handles the CSRF token of state-changing requests. Calls are typed
 * by the generated OpenAPI types (`call('get', '/api/v1/chats', …)`).
 */
export class ApiClient {
	readonly #fetch: typeof fetch;
	#csrf: Promise<string> | null = null;

	constructor(fetchImpl: typeof fetch = (...args) => fetch(...args)) {
		this.#fetch = fetchImpl;
	}

	// ---- CSRF -----------------------------------------------------------

	/** The CSRF token, fetched on first use and then reused. */
	csrfToken(): Promise<string> {
		if (!this.#csrf) {
			const pending = this.call('get', '/api/v1/auth/csrf', {}).then((r) => {
				if (!r || typeof r.token !== 'string' || !r.token) {
					throw new ApiError({ type: 'about:blank', title: 'Missing CSRF token', status: 500, detail: '' });
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

	// ---- Requests ---------------------------------------------------------

	/** A typed call of one operation of the OpenAPI document. */
	async call<P extends ApiPath, M extends MethodOf<P>>(
		method: M,
		path: P,
		options: CallOptions<P, M>
	): Promise<Reply<P, M>> {
		const res = await this.#request(method.toUpperCase() as Method, urlOf(path, options), {
			body: options.body,
			signal: options.signal
		});
		return (await readBody(res)) as Reply<P, M>;
	}

	/**
	 * Sends a chat message and reads the answer stream: `onEvent` gets each Server-Sent Event
	 * in order. Refusals before the stream (quota, silenced…) reject with an ApiError.
	 */
	async sendMessage(
		chatId: string,
		body: Body<'/api/v1/chats/{id}/messages', 'post'>,
		onEvent: (event: ChatStreamEvent) => void,
		signal?: AbortSignal
	): Promise<void> {
		const res = await this.#request(
			'POST',
			`/api/v1/chats/${encodeURIComponent(chatId)}/messages`,
			{ body, signal, headers: { Accept: 'text/event-stream, application/problem+json' } }
		);
		if (!res.body) return;
		const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
		let buffer = '';
		for (;;) {
			const { value, done } = await reader.read();
			if (done) break;
			buffer += value;
			let end: number;
			while ((end = buffer.indexOf('\n\n')) >= 0) {
				const block = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				const event = parseSseBlock(block);
				if (event) onEvent(event);
			}
		}
	}

	async #request(method: Method, url: string, options: RequestOptions): Promise<Response> {
		if (!STATE_CHANGING.has(method)) return this.#send(method, url, options, null);
		let token = await this.csrfToken();
		try {
			return await this.#send(method, url, options, token);
		} catch (err) {
			if (!(err instanceof ApiError) || !err.isCsrfFailure) throw err;
			// the token expired or the session changed elsewhere: get a new one and retry once
			this.#csrf = null;
			token = await this.csrfToken();
			return this.#send(method, url, options, token);
		}
	}

	async #send(
		method: Method,
		url: string,
		{ body, signal, headers }: RequestOptions,
		csrf: string | null
	): Promise<Response> {
		const h: Record<string, string> = { Accept: 'application/json, application/problem+json' };
		if (body !== undefined) h['Content-Type'] = 'application/json';
		if (csrf) h['X-CSRF-Token'] = csrf;
		Object.assign(h, headers);

		let res: Response;
		try {
			res = await this.#fetch(url, {
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
		if (!res.ok) {
			throw new ApiError(
				toProblem(await readBody(res), res.status, res.statusText),
				parseRetryAfter(res.headers.get('Retry-After'))
			);
		}
		return res;
	}

	// ---- Endpoints that change the session ---------------------------------

	readonly auth = {
		providers: () => this.call('get', '/api/v1/auth/providers', {}),

		register: async (body: Body<'/api/v1/auth/register', 'post'>) => {
			const r = await this.call('post', '/api/v1/auth/register', { body });
			this.refreshCsrf();
			return r.user;
		},

		login: async (body: Body<'/api/v1/auth/login', 'post'>) => {
			const r = await this.call('post', '/api/v1/auth/login', { body });
			this.refreshCsrf();
			return r.user;
		},

		/** Signs out the active account only; other signed-in accounts stay. */
		logout: async () => {
			try {
				await this.call('post', '/api/v1/auth/logout', {});
			} finally {
				this.refreshCsrf();
			}
		},

		/** Revokes every session of the active user. */
		logoutAll: async () => {
			try {
				await this.call('post', '/api/v1/auth/logout-all', {});
			} finally {
				this.refreshCsrf();
			}
		},

		/**
		 * Where the browser goes to sign in with an external provider (`login`), or to link one to
		 * the active account (`link`); it comes back to `returnTo`.
		 */
		providerUrl: (providerId: string, returnTo = '/', intent: 'login' | 'link' = 'login') =>
			`/api/v1/auth/oauth/${encodeURIComponent(providerId)}/authorize?intent=${intent}&returnTo=${encodeURIComponent(returnTo).replace(/%2F/gi, '/')}`
	};

	readonly me = () => this.call('get', '/api/v1/me', {});

	readonly accounts = {
		list: () => this.call('get', '/api/v1/accounts', {}),

		switch: async (userId: string) => {
			const r = await this.call('post', '/api/v1/accounts/switch', { body: { userId } });
			this.refreshCsrf();
			return r.user;
		}
	};
}

/** `/api/v1/chats/{id}` + params + query → the URL to fetch. */
function urlOf(path: string, options: { params?: unknown; query?: unknown }): string {
	const params = (options.params ?? {}) as Record<string, string>;
	let url = path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(String(params[name] ?? '')));
	const query = new URLSearchParams();
	for (const [key, value] of Object.entries((options.query ?? {}) as Record<string, unknown>)) {
		if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
	}
	const qs = query.toString();
	if (qs) url += `?${qs}`;
	return url;
}

/** One `event: …\ndata: …` block of a Server-Sent Events stream (comments and unknown events are skipped). */
export function parseSseBlock(block: string): ChatStreamEvent | null {
	let event = 'message';
	const data: string[] = [];
	for (const line of block.split('\n')) {
		if (line.startsWith('event:')) event = line.slice(6).trim();
		else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
	}
	if (data.length === 0) return null;
	if (!['message', 'delta', 'done', 'error'].includes(event)) return null;
	try {
		return { event, data: JSON.parse(data.join('\n')) } as ChatStreamEvent;
	} catch {
		return null;
	}
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
