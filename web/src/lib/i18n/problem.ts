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
