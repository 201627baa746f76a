/// <reference types="vite-plugin-pwa/client" />

// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
	namespace App {
		interface Error {
			message: string;
			/** i18n key of a friendlier, translated message */
			messageKey?: string;
		}
	}
}

export {};
