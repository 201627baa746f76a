import { api, isApiError, type Me, type SignedInAccount } from '#lib/api/index.ts';

/**
 * Who is signed in: the active account (`/me`) and every account signed in on this
 * device (`/accounts`). Loaded by the signed-in layout; refreshed after switching or
 * signing out.
 */
class SessionStore {
	me = $state<Me | null>(null);
	accounts = $state<SignedInAccount[]>([]);

	/** Accounts other than the active one. */
	others = $derived(
		this.accounts.filter((a) => !a.active && (this.me === null || a.userId !== this.me.id))
	);

	/**
	 * Fetches the active user and the account list. Rejects with the ApiError of `/me`
	 * (401 when nobody is signed in); a failing account list only empties the switcher.
	 */
	async load(): Promise<Me> {
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
		return me;
	}

	clear(): void {
		this.me = null;
		this.accounts = [];
	}
}

export const session = new SessionStore();

/** The name to show for a user: full name, else username. */
export function displayName(user: { fullName?: string | null; username?: string | null; email?: string | null }): string {
	return user.fullName?.trim() || user.username || user.email || '';
}
