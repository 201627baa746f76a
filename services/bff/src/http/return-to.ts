const PLACEHOLDER_ORIGIN = "https://return-to.invalid";

/**
 * A same-origin path to send the browser back to, or undefined. Rejects anything a browser could
 * read as another origin: scheme-relative (`//host`), backslashes (`/\host`), control characters
 * and whitespace (browsers drop tabs and newlines from URLs), and anything not starting with `/`.
 * The answer is re-serialised by the URL parser, so what is kept is exactly what is sent.
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > 2000) return undefined;
  if (!value.startsWith("/") || value.startsWith("//") || /[\\\s\u0000-\u001f\u007f]/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return undefined;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // The API is not a place to land a browser on.
  if (path.startsWith("//") || /^\/(api|v1)(\/|$)/.test(url.pathname)) return undefined;
  return path;
}

/** The path with one query parameter added (the provider error code on the way back). */
export function withQueryParameter(path: string, name: string, value: string): string {
  const url = new URL(path, PLACEHOLDER_ORIGIN);
  url.searchParams.set(name, value);
  return `${url.pathname}${url.search}${url.hash}`;
}
