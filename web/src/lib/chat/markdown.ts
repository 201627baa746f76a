import DOMPurify from 'dompurify';
import { Marked } from 'marked';

const marked = new Marked({ gfm: true, breaks: true, async: false });

// Links from a model's answer open in a new tab and pass no referrer.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
	if (node.tagName === 'A') {
		node.setAttribute('target', '_blank');
		node.setAttribute('rel', 'noopener noreferrer nofollow');
	}
});

/** Markdown (GitHub flavour, code blocks) → sanitised HTML: no scripts, handlers, styles or frames. */
export function renderMarkdown(text: string): string {
	const html = marked.parse(text) as string;
	return DOMPurify.sanitize(html, {
		USE_PROFILES: { html: true },
		FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'img'],
		FORBID_ATTR: ['style']
	});
}
