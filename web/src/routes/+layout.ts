// Translations are registered before any page renders.
import '#lib/i18n/index.ts';

// A client-rendered single-page app: adapter-static writes the index.html fallback
// and the BFF serves it for every app URL.
export const ssr = false;
export const prerender = false;
