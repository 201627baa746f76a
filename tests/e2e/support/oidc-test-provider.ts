// A real OpenID provider (panva's oidc-provider) on a loopback port, standing in for Google and any
// generic OIDC provider in tests and local development. Who signs in is chosen by the caller
// (no login form): `nextSignIn` names the account, or "deny" refuses consent.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type KoaContextWithOIDC } from "oidc-provider";

export interface TestAccount {
  email: string;
  email_verified: boolean;
  name: string;
  preferred_username?: string;
}

export interface TestClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface TestOidcProvider {
  issuer: string;
  accounts: Map<string, TestAccount>;
  /** The account the next interaction signs in, or "deny" (the person refuses). */
  nextSignIn: string;
  /** Registers the clients once their redirect URIs are known (the app's port is picked later). */
  configure(clients: TestClient[]): void;
  close(): Promise<void>;
}

/** Starts listening first (so the issuer URL is known), then serves once `configure` is called. */
export async function startTestOidcProvider(options: { port?: number; host?: string } = {}): Promise<TestOidcProvider> {
  let handler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  const server = createServer((request, response) => {
    if (!handler) {
      response.writeHead(503).end("not configured yet");
      return;
    }
    handler(request, response);
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`;
  const accounts = new Map<string, TestAccount>();

  const state: TestOidcProvider = {
    issuer,
    accounts,
    nextSignIn: "",
    configure(clients) {
      const provider = new Provider(issuer, {
        clients: clients.map((client) => ({
          client_id: client.clientId,
          client_secret: client.clientSecret,
          redirect_uris: client.redirectUris,
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_post",
        })),
        async findAccount(_ctx, id) {
          const account = accounts.get(id);
          if (!account) return undefined;
          return { accountId: id, claims: async () => ({ sub: id, ...account }) };
        },
        claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "preferred_username"] },
        features: { devInteractions: { enabled: false } },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        // Consent is implied: every client gets the scopes it asks for.
        async loadExistingGrant(ctx: KoaContextWithOIDC) {
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
          grant.addOIDCScope("openid email profile");
          await grant.save();
          return grant;
        },
        pkce: { required: () => true },
        ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
        cookies: { keys: ["a test provider's cookie key"] },
      });
      const callback = provider.callback();
      handler = (request, response) => {
        const interaction = /^\/interaction\/([^/?]+)/.exec(request.url ?? "");
        if (!interaction) return void callback(request, response);
        const who = state.nextSignIn;
        const result = who === "deny" ? { error: "access_denied", error_description: "The person refused." } : { login: { accountId: who } };
        provider.interactionFinished(request, response, result, { mergeWithLastSubmission: false }).catch((error: unknown) => {
          response.writeHead(500).end(String(error));
        });
      };
    },
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
  return state;
}

/**
 * The person's side at the provider: follows its redirects with a cookie jar until it sends the
 * browser back to `appOrigin`, and returns that callback URL.
 */
export async function throughProvider(authorizationUrl: string, appOrigin: string): Promise<URL> {
  const cookies = new Map<string, string>();
  let url = new URL(authorizationUrl);
  for (let hop = 0; hop < 10; hop += 1) {
    if (url.origin === new URL(appOrigin).origin) return url;
    const response = await fetch(url, { redirect: "manual", headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join("; ") } });
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(";");
      const [name, ...rest] = pair!.split("=");
      cookies.set(name!.trim(), rest.join("="));
    }
    const location = response.headers.get("location");
    if (!location) throw new Error(`the provider answered ${response.status} without a redirect: ${await response.text()}`);
    url = new URL(location, url);
  }
  throw new Error("too many redirects at the provider");
}
