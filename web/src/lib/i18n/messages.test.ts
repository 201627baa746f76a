import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import en from './en.json';
import ru from './ru.json';

const keys = (tree: object, prefix = ''): string[] =>
	Object.entries(tree).flatMap(([key, value]) =>
		typeof value === 'object' && value !== null ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`]
	);

const sources = (dir: string): string[] =>
	readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		if (statSync(path).isDirectory()) return name === 'generated' ? [] : sources(path);
		return /\.(svelte|ts)$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
	});

describe('translations', () => {
	it('has every English message in Russian and no extra ones', () => {
		expect(keys(ru).sort()).toEqual(keys(en).sort());
	});

	it('has every message the screens ask for (literal keys)', () => {
		const known = new Set(keys(en));
		const src = join(import.meta.dirname, '..', '..');
		const missing = sources(src).flatMap((file) =>
			[...readFileSync(file, 'utf8').matchAll(/\$_\('([a-zA-Z0-9_.]+)'/g)].map((m) => m[1]!).filter((key) => !known.has(key)).map((key) => `${file}: ${key}`)
		);
		expect(missing).toEqual([]);
	});
});
