import { error } from '@sveltejs/kit';
import { session } from '#lib/stores/session.svelte.ts';
import type { LayoutLoad } from './$types';

/**
 * The admin area is for the tenant's administrators and the platform operator (tenants); the
 * server checks every call as well.
 */
export const load: LayoutLoad = async ({ parent }) => {
	await parent();
	const admin = session.me?.role === 'admin';
	const operator = session.me?.platformRole === 'operator';
	if (!admin && !operator) error(403, { message: 'Administrators only', messageKey: 'admin.only' });
	return { admin, operator };
};
