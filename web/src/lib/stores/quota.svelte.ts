import { api, type Quota } from '#lib/api/index.ts';

const REFRESH_MS = 30_000;
const SETTLE_MS = 3_000;

/** Today's quota of the active account: refreshed every 30 s and after each message. */
class QuotaStore {
	current = $state<Quota | null>(null);
	#timer: ReturnType<typeof setInterval> | undefined;
	#settle: ReturnType<typeof setTimeout> | undefined;

	/** True when either allowance is used up. */
	atLimit = $derived(
		this.current !== null &&
			((this.current.messages.limit > 0 && this.current.messages.used >= this.current.messages.limit) ||
				(this.current.tokens.limit > 0 && this.current.tokens.used >= this.current.tokens.limit))
	);

	async refresh(): Promise<void> {
		try {
			this.current = await api.call('get', '/api/v1/quota', {});
		} catch {
			/* offline or signed out: keep the last numbers */
		}
	}

	/** After a message: now, and once more when its usage has been counted (counted asynchronously). */
	afterMessage(): void {
		void this.refresh();
		clearTimeout(this.#settle);
		this.#settle = setTimeout(() => void this.refresh(), SETTLE_MS);
	}

	/** Starts the 30-second refresh; returns the function that stops it. */
	start(): () => void {
		void this.refresh();
		clearInterval(this.#timer);
		this.#timer = setInterval(() => void this.refresh(), REFRESH_MS);
		return () => clearInterval(this.#timer);
	}

	clear(): void {
		this.current = null;
	}
}

export const quota = new QuotaStore();
