import { error, redirect } from '@sveltejs/kit';
import { isApiError } from '#lib/api/index.ts';
import { session } from '#lib/stores/session.svelte.ts';
import type { LayoutLoad } from './$types';

/** Signed-in pages: load who is signed in, or go to the sign-in page. */
export const load: LayoutLoad = async () => {
	try {
		await session.load();
	} catch (err) {
		if (isApiError(err) && err.status === 401) redirect(307, '/login');
		if (isApiError(err) && err.isNetworkError) {
			error(503, { message: err.message, messageKey: 'errors.network' });
		}
		const status = isApiError(err) && err.status >= 400 ? err.status : 500;
		error(status, { message: isApiError(err) ? err.summary : String(err) });
	}
};
