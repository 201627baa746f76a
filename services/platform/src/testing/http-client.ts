import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";

/** fetch() will not send another Host header; node:http does (tenants are chosen by Host). */
function requestWithHost(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<Response> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method, headers }, (incoming) => {
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
        else if (value !== undefined) responseHeaders.set(name, value);
      }
      const status = incoming.statusCode ?? 500;
      const stream = status === 204 || status === 304 ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>);
      resolve(new Response(stream, { status, headers: responseHeaders }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/**
 * A browser-like HTTP client for tests: keeps cookies, sends Origin and the CSRF token on
 * state-changing requests exactly as API.md asks of browsers.
 */
export class HttpClient {
  readonly baseUrl: string;
  /** Host header to send (a tenant's domain) while connecting to baseUrl. */
  readonly host: string | undefined;
  private cookies = new Map<string, string>();
  private csrfToken: string | undefined;

  constructor(baseUrl: string, options: { host?: string } = {}) {
    this.baseUrl = baseUrl;
    this.host = options.host;
  }

  /** The origin a browser on this site would send. */
  origin(): string {
    return this.host ? `${new URL(this.baseUrl).protocol}//${this.host}` : new URL(this.baseUrl).origin;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  /** Raw Set-Cookie handling: remembers and forgets cookies like a browser. */
  private storeCookies(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(";");
      const [name, ...rest] = pair!.split("=");
      const value = rest.join("=");
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (expired || value === "") this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
  }

  async fetchCsrf(): Promise<string> {
    const response = await this.request("GET", "/api/v1/auth/csrf");
    this.csrfToken = ((await response.json()) as { token: string }).token;
    return this.csrfToken;
  }

  async request(method: string, path: string, options: { body?: unknown; rawBody?: string; headers?: Record<string, string>; csrf?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.host) headers.host = this.host;
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader();
    const stateChanging = !["GET", "HEAD", "OPTIONS"].includes(method);
    if (stateChanging && options.csrf !== false) {
      if (!this.csrfToken) await this.fetchCsrf();
      if (this.cookies.size > 0) headers.cookie = this.cookieHeader();
      headers["x-csrf-token"] ??= this.csrfToken!;
      headers.origin ??= this.origin();
    }
    let body: string | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers["content-type"] ??= "application/json";
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }
    const response = this.host ? await requestWithHost(new URL(path, this.baseUrl), method, headers, body) : await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: "manual" });
    this.storeCookies(response);
    return response;
  }

  get = (path: string, headers?: Record<string, string>) => this.request("GET", path, headers ? { headers } : {});
  post = (path: string, body?: unknown, headers?: Record<string, string>) => this.request("POST", path, { body, ...(headers ? { headers } : {}) });
  patch = (path: string, body?: unknown) => this.request("PATCH", path, { body });
  put = (path: string, body?: unknown) => this.request("PUT", path, { body });
  delete = (path: string) => this.request("DELETE", path);
}
