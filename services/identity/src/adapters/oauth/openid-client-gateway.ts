import * as client from "openid-client";
import type { Logger } from "@tessera/platform";
import { oauthErrors, type ExternalProfile, type OAuthFlow, type ProviderKind, type SignInProvider } from "../../domain/oauth.ts";
import type { AuthorizationRequest, OAuthProviderGateway } from "../../domain/ports.ts";

/** One provider as configured for the installation (config.ts reads it from the environment). */
export interface ProviderSettings {
  id: ProviderKind;
  name: string;
  clientId: string;
  clientSecret: string;
  /** OIDC providers (Google, generic): the issuer whose discovery document is read. */
  issuer?: string | undefined;
  /** Endpoint overrides (tests, self-hosted providers); for OAuth 2 providers they default to the real ones. */
  authorizationUrl?: string | undefined;
  tokenUrl?: string | undefined;
  userinfoUrl?: string | undefined;
  /** GitHub only: the emails API. */
  emailsUrl?: string | undefined;
}

interface Kind {
  type: "oidc" | "oauth2";
  scope: string;
  defaults: { issuer: string; authorizationUrl?: string; tokenUrl?: string; userinfoUrl?: string; emailsUrl?: string };
}

const KINDS: Record<ProviderKind, Kind> = {
  google: { type: "oidc", scope: "openid email profile", defaults: { issuer: "https://accounts.google.com" } },
  oidc: { type: "oidc", scope: "openid email profile", defaults: { issuer: "" } },
  github: {
    type: "oauth2",
    scope: "read:user user:email",
    defaults: {
      issuer: "https://github.com/login/oauth",
      authorizationUrl: "https://github.com/login/oauth/authorize",
      tokenUrl: "https://github.com/login/oauth/access_token",
      userinfoUrl: "https://api.github.com/user",
      emailsUrl: "https://api.github.com/user/emails",
    },
  },
  discord: {
    type: "oauth2",
    scope: "identify email",
    defaults: {
      issuer: "https://discord.com",
      authorizationUrl: "https://discord.com/oauth2/authorize",
      tokenUrl: "https://discord.com/api/oauth2/token",
      userinfoUrl: "https://discord.com/api/users/@me",
    },
  },
};

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** https everywhere; plain http only on a loopback address (local development and tests). */
export function isAllowedProviderUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
  } catch {
    return false;
  }
}

const TIMEOUT_SECONDS = 10;

/** Whether a failure means the provider could not be reached (rather than that it said no). */
function isUnreachable(error: unknown): boolean {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return true;
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) return true;
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof Response && cause.status >= 500) return true;
  return cause !== undefined && cause !== error && isUnreachable(cause);
}

const text = (value: unknown): string => (typeof value === "string" ? value : typeof value === "number" ? String(value) : "");
const httpsOrEmpty = (value: unknown): string => (typeof value === "string" && /^https:\/\/\S{1,2000}$/.test(value) ? value : "");
const verified = (value: unknown): boolean => value === true || value === "true";

/** What a failure is, for the log: never its cause, which can hold the callback's parameters (the code). */
const describe = (error: unknown) => ({ name: (error as Error)?.name, message: (error as Error)?.message, code: (error as { code?: unknown })?.code, error: (error as { error?: unknown })?.error });

/** The OAuth/OIDC side of sign-in with openid-client v6: authorization-code flow, PKCE S256, state, nonce, RFC 9207 `iss`. */
export function createOpenIdClientGateway(providers: ProviderSettings[], logger: Logger): OAuthProviderGateway {
  const settings = new Map(providers.map((provider) => [provider.id, provider]));
  const configurations = new Map<ProviderKind, Promise<client.Configuration>>();

  const insecure = (...urls: Array<string | undefined>) => urls.some((url) => url?.startsWith("http:"));

  async function buildConfiguration(provider: ProviderSettings): Promise<client.Configuration> {
    const kind = KINDS[provider.id];
    const endpoints = {
      issuer: provider.issuer ?? kind.defaults.issuer,
      authorizationUrl: provider.authorizationUrl ?? kind.defaults.authorizationUrl,
      tokenUrl: provider.tokenUrl ?? kind.defaults.tokenUrl,
      userinfoUrl: provider.userinfoUrl ?? kind.defaults.userinfoUrl,
    };
    const allowHttp = insecure(endpoints.issuer, endpoints.authorizationUrl, endpoints.tokenUrl, endpoints.userinfoUrl);
    let configuration: client.Configuration;
    if (kind.type === "oidc") {
      configuration = await client.discovery(new URL(endpoints.issuer), provider.clientId, provider.clientSecret, undefined, {
        timeout: TIMEOUT_SECONDS,
        ...(allowHttp ? { execute: [client.allowInsecureRequests] } : {}),
      });
      const metadata = configuration.serverMetadata() as client.ServerMetadata;
      // Endpoint overrides replace what discovery said (the issuer and its keys stay).
      if (endpoints.authorizationUrl || endpoints.tokenUrl || endpoints.userinfoUrl) {
        configuration = new client.Configuration(
          {
            ...metadata,
            ...(endpoints.authorizationUrl ? { authorization_endpoint: endpoints.authorizationUrl } : {}),
            ...(endpoints.tokenUrl ? { token_endpoint: endpoints.tokenUrl } : {}),
            ...(endpoints.userinfoUrl ? { userinfo_endpoint: endpoints.userinfoUrl } : {}),
          },
          provider.clientId,
          provider.clientSecret,
        );
      }
    } else {
      configuration = new client.Configuration(
        { issuer: endpoints.issuer, authorization_endpoint: endpoints.authorizationUrl!, token_endpoint: endpoints.tokenUrl! },
        provider.clientId,
        { client_secret: provider.clientSecret },
        client.ClientSecretPost(provider.clientSecret),
      );
    }
    configuration.timeout = TIMEOUT_SECONDS;
    if (allowHttp) client.allowInsecureRequests(configuration);
    return configuration;
  }

  /** Discovery once per provider; a failed discovery is tried again on the next request. */
  function configurationOf(id: ProviderKind): Promise<client.Configuration> {
    const provider = settings.get(id);
    if (!provider) return Promise.reject(oauthErrors.unknownProvider());
    let pending = configurations.get(id);
    if (!pending) {
      pending = buildConfiguration(provider).catch((error: unknown) => {
        configurations.delete(id);
        logger.warn({ provider: id, failure: describe(error) }, "oauth provider discovery failed");
        throw oauthErrors.providerUnavailable(error);
      });
      configurations.set(id, pending);
    }
    return pending;
  }

  async function getJson(configuration: client.Configuration, accessToken: string, url: string): Promise<unknown> {
    const headers = new Headers({ accept: "application/json", "user-agent": "tessera" });
    const response = await client.fetchProtectedResource(configuration, accessToken, new URL(url), "GET", undefined, headers);
    if (!response.ok) throw Object.assign(new Error(`user API answered ${response.status}`), { cause: response });
    return response.json();
  }

  async function readProfile(id: ProviderKind, configuration: client.Configuration, tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers): Promise<ExternalProfile> {
    const provider = settings.get(id)!;
    const kind = KINDS[id];
    if (kind.type === "oidc") {
      const claims = tokens.claims();
      if (!claims) throw new Error("no ID token");
      let info: Record<string, unknown> = { ...claims };
      if (configuration.serverMetadata().userinfo_endpoint) info = { ...info, ...(await client.fetchUserInfo(configuration, tokens.access_token, claims.sub)) };
      const email = text(info.email) || null;
      return {
        subject: claims.sub,
        email,
        emailVerified: email !== null && verified(info.email_verified),
        displayName: text(info.name) || text(info.preferred_username) || (email ?? ""),
        username: text(info.preferred_username) || text(info.nickname) || null,
        avatarUrl: httpsOrEmpty(info.picture),
      };
    }
    const user = (await getJson(configuration, tokens.access_token, provider.userinfoUrl ?? kind.defaults.userinfoUrl!)) as Record<string, unknown>;
    const subject = text(user.id);
    if (!subject) throw new Error("the user API gave no id");
    if (id === "github") {
      // The primary address, and whether GitHub verified it, only come from the emails API.
      const emails = (await getJson(configuration, tokens.access_token, provider.emailsUrl ?? kind.defaults.emailsUrl!)) as Array<Record<string, unknown>>;
      const primary = Array.isArray(emails) ? emails.find((entry) => entry.primary === true) : undefined;
      return {
        subject,
        email: text(primary?.email) || null,
        emailVerified: primary?.verified === true,
        displayName: text(user.name) || text(user.login),
        username: text(user.login) || null,
        avatarUrl: httpsOrEmpty(user.avatar_url),
      };
    }
    const avatar = text(user.avatar);
    return {
      subject,
      email: text(user.email) || null,
      emailVerified: user.verified === true && text(user.email) !== "",
      displayName: text(user.global_name) || text(user.username),
      username: text(user.username) || null,
      avatarUrl: avatar && /^[a-z0-9_]+$/i.test(avatar) ? `https://cdn.discordapp.com/avatars/${encodeURIComponent(subject)}/${avatar}.png` : "",
    };
  }

  return {
    configured: (): SignInProvider[] => providers.map((provider) => ({ id: provider.id, name: provider.name, type: KINDS[provider.id].type })),

    async authorizationUrl(id: ProviderKind, request: AuthorizationRequest): Promise<string> {
      const configuration = await configurationOf(id);
      const parameters: Record<string, string> = {
        redirect_uri: request.redirectUri,
        scope: KINDS[id].scope,
        state: request.state,
        code_challenge: request.codeChallenge,
        code_challenge_method: "S256",
      };
      if (KINDS[id].type === "oidc") parameters.nonce = request.nonce;
      return client.buildAuthorizationUrl(configuration, parameters).href;
    },

    async exchange(id: ProviderKind, callbackQuery: string, flow: OAuthFlow): Promise<ExternalProfile> {
      const configuration = await configurationOf(id);
      const currentUrl = new URL(flow.redirectUri);
      currentUrl.search = callbackQuery;
      try {
        const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
          pkceCodeVerifier: flow.codeVerifier,
          expectedState: flow.state,
          ...(KINDS[id].type === "oidc" ? { expectedNonce: flow.nonce, idTokenExpected: true } : {}),
        });
        return await readProfile(id, configuration, tokens);
      } catch (error) {
        if (error instanceof client.AuthorizationResponseError && error.error === "access_denied") throw oauthErrors.denied();
        if (isUnreachable(error)) {
          logger.warn({ provider: id, failure: describe(error) }, "oauth provider unreachable");
          throw oauthErrors.providerUnavailable(error);
        }
        logger.warn({ provider: id, failure: describe(error) }, "oauth callback rejected");
        throw oauthErrors.failed(error);
      }
    },
  };
}
