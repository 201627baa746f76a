import { error, redirect } from '@sveltejs/kit';
import { goto } from '$app/navigation';
import { isApiError } from '#lib/api/index.ts';
import { session } from '#lib/stores/session.svelte.ts';
import type { LayoutLoad } from './$types';

let opened = false;

/**
 * Signed-in pages: who is signed in (on opening the app, the last known account at once and the
 * server's answer in the background), or the sign-in page.
 */
export const load: LayoutLoad = async () => {
	try {
		if (opened) await session.load();
		else await session.start(() => void goto('/login', { replaceState: true }));
		opened = true;
	} catch (err) {
		if (isApiError(err) && err.status === 401) redirect(307, '/login');
		if (isApiError(err) && err.isNetworkError) {
			error(503, { message: err.message, messageKey: 'errors.network' });
		}
		const status = isApiError(err) && err.status >= 400 ? err.status : 500;
		error(status, { message: isApiError(err) ? err.summary : String(err) });
	}
};
