import { error } from '@sveltejs/kit';
import { session } from '#lib/stores/session.svelte.ts';
import type { LayoutLoad } from './$types';

/** The admin area is for the tenant's administrators (the server checks every call as well). */
export const load: LayoutLoad = async ({ parent }) => {
	await parent();
	if (session.me?.role !== 'admin') error(403, { message: 'Administrators only', messageKey: 'admin.only' });
};
