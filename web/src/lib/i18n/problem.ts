import { isApiError } from '#lib/api/index.ts';

type Translate = (id: string, options?: { values?: Record<string, string | number | Date> }) => string;

/**
 * The sentence to show for a failed request: translated text for network failures and
 * throttling, otherwise the problem's `detail` (or `title`) from the server.
 */
export function problemMessage(err: unknown, t: Translate): string {
	if (!isApiError(err)) return t('errors.unknown');
	if (err.isNetworkError) return t('errors.network');
	if (err.status === 429) {
		return err.retryAfter != null
			? t('errors.throttled', { values: { seconds: err.retryAfter } })
			: t('errors.throttledNoDelay');
	}
	return err.summary || t('errors.unknown');
}

/** Codes the BFF sends back as `?oauthError=` after a provider sign-in or link failed. */
const OAUTH_ERRORS = new Set([
	'oauth_state_invalid',
	'oauth_denied',
	'oauth_failed',
	'oauth_provider_unavailable',
	'oauth_provider_unknown',
	'oauth_email_missing',
	'oauth_email_unverified',
	'oauth_account_exists',
	'oauth_identity_taken',
	'oauth_provider_already_linked',
	'oauth_link_user_changed',
	'unauthenticated',
	'account_disabled',
	'too_many_accounts',
	'registration_closed',
	'registration_throttled',
	'login_throttled',
	'last_sign_in_method'
]);

/** The translated sentence for a provider sign-in error code (unknown codes get a general one). */
export function oauthErrorMessage(code: string, t: Translate): string {
	return t(OAUTH_ERRORS.has(code) ? `oauth.errors.${code}` : 'oauth.errors.default');
}
