import adapter from '@sveltejs/adapter-static';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA, type VitePWAOptions } from 'vite-plugin-pwa';
import type { VitePluginPWAAPI } from 'vite-plugin-pwa';

/** Where adapter-static writes the site; the service worker is generated into it. */
const OUT_DIR = 'build';

/** Brand colour: web manifest theme colour (src/app.html and the icons use it too). */
const THEME_COLOUR = '#3446c8';
const BACKGROUND_COLOUR = '#f6f7fb';

/**
 * vite-plugin-pwa, fitted to SvelteKit: the web manifest is emitted with the client
 * bundle as usual, but the service worker is generated only once adapter-static has
 * written the whole site (including the index.html fallback) to `build/`, so the
 * precache list covers the real app shell.
 */
function sveltekitPWA(options: Partial<VitePWAOptions>): Plugin[] {
	const plugins = VitePWA(options);
	const api = plugins.find((p) => p.name === 'vite-plugin-pwa')?.api as VitePluginPWAAPI | undefined;
	const build = plugins.find((p) => p.name === 'vite-plugin-pwa:build');
	const dev = plugins.find((p) => p.name === 'vite-plugin-pwa:dev-sw');
	if (!api || !build) throw new Error('vite-plugin-pwa: unexpected plugin layout');

	// SvelteKit has no index.html to transform, and each environment build would
	// otherwise write a service worker before the adapter has produced the site.
	delete build.closeBundle;
	delete build.transformIndexHtml;
	if (dev) delete dev.transformIndexHtml;

	return [
		...plugins.filter((p) => p.name !== 'vite-plugin-pwa:pwa-assets'),
		{
			name: 'tessera:pwa-service-worker',
			apply: 'build',
			// placed after sveltekit(): runs after SvelteKit's own post hook, i.e. after the adapter
			buildApp: {
				order: 'post',
				async handler() {
					await api.generateSW();
				}
			}
		}
	];
}

export default defineConfig({
	plugins: [
		sveltekit({
			adapter: adapter({
				pages: OUT_DIR,
				assets: OUT_DIR,
				fallback: 'index.html',
				precompress: false,
				strict: true
			}),
			// the service worker comes from vite-plugin-pwa and the app registers it itself
			serviceWorker: { register: false }
		}),
		sveltekitPWA({
			strategies: 'generateSW',
			registerType: 'prompt',
			injectRegister: false,
			outDir: OUT_DIR,
			base: '/',
			scope: '/',
			filename: 'sw.js',
			manifestFilename: 'manifest.webmanifest',
			// the icons are precached by the glob below
			includeManifestIcons: false,
			manifest: {
				id: '/',
				name: 'Tessera',
				short_name: 'Tessera',
				description: 'Tessera accounts and AI chat',
				lang: 'en',
				start_url: '/',
				scope: '/',
				display: 'standalone',
				orientation: 'any',
				theme_color: THEME_COLOUR,
				background_color: BACKGROUND_COLOUR,
				icons: [
					{ src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
					{ src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
					{
						src: '/icons/icon-maskable-512.png',
						sizes: '512x512',
						type: 'image/png',
						purpose: 'maskable'
					}
				]
			},
			workbox: {
				// the app shell: index.html fallback, hashed bundles and styles, icons (vite-plugin-pwa adds the manifest)
				globPatterns: ['**/*.{js,css,html,svg,png,ico,woff2}'],
				// SvelteKit polls version.json to notice new deployments: always from the network
				globIgnores: ['**/_app/version.json'],
				navigateFallback: 'index.html',
				// backend URLs are never answered with the app shell
				navigateFallbackDenylist: [/^\/api(?:\/|$)/, /^\/v1(?:\/|$)/],
				cleanupOutdatedCaches: true,
				clientsClaim: false,
				skipWaiting: false,
				// API responses are never cached
				runtimeCaching: [
					{
						urlPattern: ({ url, sameOrigin }) =>
							sameOrigin && /^\/(?:api|v1)(?:\/|$)/.test(url.pathname),
						handler: 'NetworkOnly'
					}
				]
			},
			devOptions: { enabled: false }
		})
	]
});
