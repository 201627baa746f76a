import { api, isApiError, type Me, type SignedInAccount } from '#lib/api/index.ts';
import { network } from './network.svelte.ts';

/** The last known signed-in state, so the app opens with no network (no token: names only). */
const CACHE_KEY = 'tessera.session';

/**
 * Who is signed in: the active account (`/me`) and every account signed in on this
 * device (`/accounts`). Loaded by the signed-in layout; refreshed after switching or
 * signing out. With no network it falls back to what it last saw.
 */
class SessionStore {
	me = $state<Me | null>(null);
	accounts = $state<SignedInAccount[]>([]);
	/** True while the shown account comes from this device's memory (no network). */
	offline = $state(false);

	/** Accounts other than the active one. */
	others = $derived(
		this.accounts.filter((a) => !a.active && (this.me === null || a.userId !== this.me.id))
	);

	/**
	 * Fetches the active user and the account list. Rejects with the ApiError of `/me`
	 * (401 when nobody is signed in); with no network it uses the last known state, if any.
	 */
	async load(): Promise<Me> {
		try {
			const [me, accounts] = await Promise.all([
				api.me(),
				api.accounts.list().catch((err: unknown) => {
					if (isApiError(err) && err.status === 401) return [];
					console.warn('Could not load the signed-in accounts', err);
					return [];
				})
			]);
			this.me = me;
			this.accounts = Array.isArray(accounts) ? accounts : [];
			this.offline = false;
			network.reachable();
			this.#remember();
			return me;
		} catch (err) {
			if (isApiError(err) && err.isNetworkError) {
				network.unreachable();
				const saved = readSaved();
				if (saved) {
					this.me = saved.me;
					this.accounts = saved.accounts;
					this.offline = true;
					return saved.me;
				}
			}
			if (isApiError(err) && err.status === 401) forgetSaved();
			throw err;
		}
	}

	/**
	 * For opening the app: the last known state at once when there is one (so the first screen
	 * does not wait for the network), checked against the server in the background. Resolves to
	 * false when nobody is known to be signed in here and the server had to be asked.
	 */
	async start(onSignedOut: () => void): Promise<Me> {
		const saved = readSaved();
		if (!saved) return this.load();
		this.me = saved.me;
		this.accounts = saved.accounts;
		this.load().catch((err: unknown) => {
			if (isApiError(err) && err.status === 401) {
				this.clear();
				onSignedOut();
			}
		});
		return saved.me;
	}

	clear(): void {
		this.me = null;
		this.accounts = [];
		forgetSaved();
	}

	#remember(): void {
		try {
			localStorage.setItem(CACHE_KEY, JSON.stringify({ me: this.me, accounts: this.accounts }));
		} catch {
			/* storage unavailable: no offline start */
		}
	}
}

function readSaved(): { me: Me; accounts: SignedInAccount[] } | null {
	try {
		const saved = JSON.parse(localStorage.getItem(CACHE_KEY) ?? 'null') as {
			me?: Me;
			accounts?: SignedInAccount[];
		} | null;
		return saved?.me ? { me: saved.me, accounts: saved.accounts ?? [] } : null;
	} catch {
		return null;
	}
}

function forgetSaved(): void {
	try {
		localStorage.removeItem(CACHE_KEY);
	} catch {
		/* nothing saved */
	}
}

export const session = new SessionStore();

/** The name to show for a user: full name, else username. */
export function displayName(user: { fullName?: string | null; username?: string | null; email?: string | null }): string {
	return user.fullName?.trim() || user.username || user.email || '';
}
