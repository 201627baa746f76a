/**
 * Whether the server can be reached: the browser's online state, corrected by experience (a
 * request that never got an answer means offline until the browser reports `online` again or a
 * later request succeeds).
 */
class NetworkStore {
	online = $state(typeof navigator === 'undefined' ? true : navigator.onLine);
	#listeners = new Set<() => void>();
	#started = false;

	start(): void {
		if (this.#started || typeof window === 'undefined') return;
		this.#started = true;
		window.addEventListener('online', () => this.reachable());
		window.addEventListener('offline', () => (this.online = false));
	}

	/** A request got an answer (or the browser is back online): run the "back online" listeners. */
	reachable(): void {
		const was = this.online;
		this.online = true;
		if (!was || typeof navigator === 'undefined' || navigator.onLine) for (const fn of this.#listeners) fn();
	}

	unreachable(): void {
		this.online = false;
	}

	/** Calls `fn` whenever the connection comes back. */
	onOnline(fn: () => void): () => void {
		this.#listeners.add(fn);
		return () => this.#listeners.delete(fn);
	}
}

export const network = new NetworkStore();
