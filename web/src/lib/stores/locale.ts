/** The language store lives with the translations; re-exported here with the other stores. */
export { locale, setLocale, LOCALES, isAppLocale, type AppLocale } from '#lib/i18n/index.ts';
