import { redirect } from '@sveltejs/kit';
import type { PageLoad } from './$types';

/** Administrators start with their users, the platform operator with the tenants. */
export const load: PageLoad = async ({ parent }) => {
	const { admin } = await parent();
	redirect(307, admin ? '/admin/users' : '/admin/tenants');
};
