#!/usr/bin/env node
// Generates the PWA / favicon images in static/icons using only Node built-ins.
// The picture is a 2x2 mosaic of rounded "tesserae" on an indigo tile.
// Run: node scripts/make-icons.mjs   (outputs are committed; rerun after changing the design)
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'static', 'icons');

/** @typedef {[number, number, number]} RGB */

/** @type {RGB} */
const BRAND = [0x34, 0x46, 0xc8]; // --brand, also the manifest theme colour
/** @type {[RGB, RGB, RGB, RGB]} */
const TILES = [
	[0xff, 0xff, 0xff],
	[0xf5, 0xb8, 0x41],
	[0x3c, 0xc8, 0xb4],
	[0xf0, 0x6e, 0x8c]
];

// ---- PNG encoding -------------------------------------------------------
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

/** @param {Buffer} buf */
function crc32(buf) {
	let c = 0xffffffff;
	for (const byte of buf) c = /** @type {number} */ (CRC_TABLE[(c ^ byte) & 0xff]) ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

/** @param {string} type @param {Buffer} data */
function chunk(type, data) {
	const len = Buffer.alloc(4);
	len.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body));
	return Buffer.concat([len, body, crc]);
}

/** @param {number} size @param {Uint8Array} rgba */
function encodePng(size, rgba) {
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(size, 0);
	ihdr.writeUInt32BE(size, 4);
	ihdr[8] = 8; // bit depth
	ihdr[9] = 6; // colour type RGBA
	ihdr[10] = 0;
	ihdr[11] = 0;
	ihdr[12] = 0;
	const stride = size * 4;
	const raw = Buffer.alloc((stride + 1) * size);
	for (let y = 0; y < size; y++) {
		raw[y * (stride + 1)] = 0; // filter: none
		Buffer.from(rgba.buffer, y * stride, stride).copy(raw, y * (stride + 1) + 1);
	}
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', deflateSync(raw, { level: 9 })),
		chunk('IEND', Buffer.alloc(0))
	]);
}

// ---- Drawing ------------------------------------------------------------
/**
 * Is (x, y) inside a rounded rectangle? Coordinates are in unit space (0..1).
 * @param {number} x @param {number} y @param {number} left @param {number} top
 * @param {number} w @param {number} h @param {number} r
 */
function inRoundRect(x, y, left, top, w, h, r) {
	if (x < left || y < top || x > left + w || y > top + h) return false;
	const cx = Math.min(Math.max(x, left + r), left + w - r);
	const cy = Math.min(Math.max(y, top + r), top + h - r);
	return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/**
 * @param {number} size
 * @param {{ maskable: boolean }} opts
 */
function drawIcon(size, { maskable }) {
	const rgba = new Uint8Array(size * size * 4);
	const SS = 4; // supersampling per axis for anti-aliased edges
	// Maskable icons are full-bleed with the artwork inside the 80% safe zone.
	const bg = maskable ? { l: 0, t: 0, s: 1, r: 0 } : { l: 0.02, t: 0.02, s: 0.96, r: 0.22 };
	const art = maskable ? 0.5 : 0.64; // size of the 2x2 mosaic
	const gap = art * 0.08;
	const tile = (art - gap) / 2;
	const o = (1 - art) / 2;
	/** @type {Array<[number, number]>} */
	const tiles = [
		[o, o],
		[o + tile + gap, o],
		[o, o + tile + gap],
		[o + tile + gap, o + tile + gap]
	];

	for (let py = 0; py < size; py++) {
		for (let px = 0; px < size; px++) {
			let r = 0, g = 0, b = 0, a = 0;
			for (let sy = 0; sy < SS; sy++) {
				for (let sx = 0; sx < SS; sx++) {
					const x = (px + (sx + 0.5) / SS) / size;
					const y = (py + (sy + 0.5) / SS) / size;
					/** @type {RGB | null} */
					let colour = null;
					if (inRoundRect(x, y, bg.l, bg.t, bg.s, bg.s, bg.r)) colour = BRAND;
					tiles.forEach(([tx, ty], i) => {
						if (inRoundRect(x, y, tx, ty, tile, tile, tile * 0.22)) colour = TILES[i] ?? null;
					});
					if (colour) {
						r += colour[0];
						g += colour[1];
						b += colour[2];
						a += 255;
					}
				}
			}
			const n = SS * SS;
			const i = (py * size + px) * 4;
			const cover = a / 255;
			// store straight (non-premultiplied) alpha
			rgba[i] = cover ? Math.round(r / cover) : 0;
			rgba[i + 1] = cover ? Math.round(g / cover) : 0;
			rgba[i + 2] = cover ? Math.round(b / cover) : 0;
			rgba[i + 3] = Math.round(a / n);
		}
	}
	return encodePng(size, rgba);
}

function svgIcon() {
	/** @param {RGB} c */
	const hex = (c) => '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
	const art = 64, gap = art * 0.08, tile = (art - gap) / 2, o = (100 - art) / 2;
	/** @type {Array<[number, number]>} */
	const pos = [
		[o, o],
		[o + tile + gap, o],
		[o, o + tile + gap],
		[o + tile + gap, o + tile + gap]
	];
	const rects = pos
		.map(([x, y], i) =>
			`<rect x="${x.toFixed(2)}" y="${y.toFixed(2)}" width="${tile.toFixed(2)}" height="${tile.toFixed(2)}" rx="${(tile * 0.22).toFixed(2)}" fill="${hex(TILES[i] ?? BRAND)}"/>`
		)
		.join('');
	return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect x="2" y="2" width="96" height="96" rx="22" fill="${hex(BRAND)}"/>${rects}</svg>\n`;
}

mkdirSync(OUT, { recursive: true });
const outputs = {
	'icon-192.png': drawIcon(192, { maskable: false }),
	'icon-512.png': drawIcon(512, { maskable: false }),
	'icon-maskable-512.png': drawIcon(512, { maskable: true }),
	'apple-touch-icon.png': drawIcon(180, { maskable: true }),
	'favicon-32.png': drawIcon(32, { maskable: false }),
	'icon.svg': Buffer.from(svgIcon())
};
for (const [name, data] of Object.entries(outputs)) {
	writeFileSync(join(OUT, name), data);
	console.log(`wrote static/icons/${name} (${data.length} bytes)`);
}
