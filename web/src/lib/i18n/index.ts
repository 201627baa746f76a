import { addMessages, getLocaleFromNavigator, init, locale } from 'svelte-i18n';
import en from './en.json';
import ru from './ru.json';

export const LOCALES = ['en', 'ru'] as const;
export type AppLocale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: AppLocale = 'en';

const STORAGE_KEY = 'tessera.locale';

export function isAppLocale(value: unknown): value is AppLocale {
	return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** `ru-RU` → `ru`; anything unsupported → null. */
function normalise(tag: string | null | undefined): AppLocale | null {
	const base = tag?.toLowerCase().split(/[-_]/)[0];
	return isAppLocale(base) ? base : null;
}

function readSaved(): AppLocale | null {
	try {
		return normalise(localStorage.getItem(STORAGE_KEY));
	} catch {
		return null;
	}
}

/** The saved choice, else the browser's language when supported, else English. */
export function initialLocale(): AppLocale {
	if (typeof window === 'undefined') return DEFAULT_LOCALE;
	return readSaved() ?? normalise(getLocaleFromNavigator()) ?? DEFAULT_LOCALE;
}

addMessages('en', en);
addMessages('ru', ru);

init({ fallbackLocale: DEFAULT_LOCALE, initialLocale: initialLocale() });

/** Keep <html lang> in step with the active language. */
if (typeof document !== 'undefined') {
	locale.subscribe((value) => {
		const l = normalise(value) ?? DEFAULT_LOCALE;
		document.documentElement.lang = l;
	});
}

/** Changes the language and remembers the choice. */
export function setLocale(value: AppLocale): void {
	locale.set(value);
	try {
		localStorage.setItem(STORAGE_KEY, value);
	} catch {
		/* storage unavailable (private mode): the choice lasts for this visit */
	}
}

export { locale };
