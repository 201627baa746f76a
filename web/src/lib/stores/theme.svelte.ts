export type Theme = 'light' | 'dark';

const STORAGE_KEY = 'tessera.theme';
/** Browser UI colour per theme: the header's surface colour. */
const META_COLOUR: Record<Theme, string> = { light: '#ffffff', dark: '#171b24' };

function isTheme(value: unknown): value is Theme {
	return value === 'light' || value === 'dark';
}

/**
 * Light/dark theme. Follows `prefers-color-scheme` until the user picks one;
 * the pick is kept in localStorage. src/app.html applies it before the first paint.
 */
class ThemeStore {
	/** The user's explicit choice, or null to follow the system. */
	saved = $state<Theme | null>(null);
	system = $state<Theme>('light');
	current = $derived<Theme>(this.saved ?? this.system);

	#started = false;

	/** Reads the saved choice and starts following the system setting. Safe to call twice. */
	start(): void {
		if (this.#started || typeof window === 'undefined') return;
		this.#started = true;

		try {
			const stored = localStorage.getItem(STORAGE_KEY);
			this.saved = isTheme(stored) ? stored : null;
		} catch {
			this.saved = null;
		}

		const query = window.matchMedia('(prefers-color-scheme: dark)');
		this.system = query.matches ? 'dark' : 'light';
		query.addEventListener('change', (e) => {
			this.system = e.matches ? 'dark' : 'light';
			this.#apply();
		});

		window.addEventListener('storage', (e) => {
			if (e.key !== STORAGE_KEY) return;
			this.saved = isTheme(e.newValue) ? e.newValue : null;
			this.#apply();
		});

		this.#apply();
	}

	set(theme: Theme): void {
		this.saved = theme;
		try {
			localStorage.setItem(STORAGE_KEY, theme);
		} catch {
			/* storage unavailable: the choice lasts for this visit */
		}
		this.#apply();
	}

	toggle(): void {
		this.set(this.current === 'dark' ? 'light' : 'dark');
	}

	#apply(): void {
		const theme = this.current;
		document.documentElement.dataset.theme = theme;
		document
			.querySelectorAll('meta[name="theme-color"]')
			.forEach((m) => m.setAttribute('content', META_COLOUR[theme]));
	}
}

export const theme = new ThemeStore();
