// Small local servers reproducing GitHub's and Discord's documented OAuth 2 endpoints and user
// APIs: authorize (redirects straight back: the person is already signed in there), token
// (authorization code + PKCE S256), GitHub's /user and /user/emails, Discord's /users/@me.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
}

export interface DiscordUser {
  id: string;
  username: string;
  global_name: string | null;
  email: string | null;
  verified: boolean;
}

interface Grant {
  userId: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
}

export interface FakeOAuth2Provider<TUser> {
  origin: string;
  users: Map<string, TUser>;
  /** Who is signed in at the provider for the next authorization, or "deny". */
  nextSignIn: string;
  /** Answer the next token request with this HTTP status (e.g. 503: the provider is down). */
  failNextTokenWith: number | null;
  /** Environment variables pointing Tessera at this provider. */
  env(prefix: "GITHUB" | "DISCORD"): Record<string, string>;
  close(): Promise<void>;
}

const readBody = async (request: IncomingMessage) => {
  let body = "";
  for await (const chunk of request) body += String(chunk);
  return new URLSearchParams(body);
};

async function startFake<TUser>(kind: "github" | "discord", client: { clientId: string; clientSecret: string }): Promise<FakeOAuth2Provider<TUser>> {
  const users = new Map<string, TUser>();
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, string>();
  const paths =
    kind === "github"
      ? { authorize: "/login/oauth/authorize", token: "/login/oauth/access_token", user: "/user", emails: "/user/emails" }
      : { authorize: "/oauth2/authorize", token: "/api/oauth2/token", user: "/api/users/@me", emails: "" };

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://fake");
    const json = (status: number, body: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (request.method === "GET" && url.pathname === paths.authorize) {
      const redirectUri = url.searchParams.get("redirect_uri") ?? "";
      const back = new URL(redirectUri);
      const state = url.searchParams.get("state");
      if (state) back.searchParams.set("state", state);
      if (fake.nextSignIn === "deny") {
        back.searchParams.set("error", "access_denied");
      } else {
        if (url.searchParams.get("client_id") !== client.clientId || url.searchParams.get("code_challenge_method") !== "S256") return json(400, { error: "invalid_request" });
        const code = randomBytes(16).toString("hex");
        codes.set(code, { userId: fake.nextSignIn, clientId: client.clientId, redirectUri, codeChallenge: url.searchParams.get("code_challenge") ?? "" });
        back.searchParams.set("code", code);
      }
      return void response.writeHead(302, { location: back.href }).end();
    }
    if (request.method === "POST" && url.pathname === paths.token) {
      const form = await readBody(request);
      if (fake.failNextTokenWith !== null) {
        const status = fake.failNextTokenWith;
        fake.failNextTokenWith = null;
        return void response.writeHead(status, { "content-type": "text/html" }).end("<h1>unavailable</h1>");
      }
      const grant = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      const verifier = form.get("code_verifier") ?? "";
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      if (
        !grant ||
        form.get("client_id") !== grant.clientId ||
        form.get("client_secret") !== client.clientSecret ||
        form.get("redirect_uri") !== grant.redirectUri ||
        challenge !== grant.codeChallenge
      ) {
        return json(400, { error: "invalid_grant", error_description: "The code is not valid." });
      }
      const token = randomBytes(20).toString("hex");
      tokens.set(token, grant.userId);
      return json(200, kind === "github" ? { access_token: token, token_type: "bearer", scope: "read:user,user:email" } : { access_token: token, token_type: "Bearer", expires_in: 604800, refresh_token: "r", scope: "identify email" });
    }
    const userId = tokens.get(/^Bearer (\S+)$/i.exec(request.headers.authorization ?? "")?.[1] ?? "");
    const user = userId ? users.get(userId) : undefined;
    if (request.method === "GET" && (url.pathname === paths.user || url.pathname === paths.emails)) {
      if (!user) return json(401, { message: "Bad credentials" });
      if (kind === "github") {
        const { emails, ...profile } = user as unknown as GitHubUser;
        const primary = emails.find((entry) => entry.primary);
        if (url.pathname === paths.emails) return json(200, emails.map((entry) => ({ ...entry, visibility: entry.primary ? "public" : null })));
        return json(200, { ...profile, avatar_url: `https://avatars.githubusercontent.com/u/${profile.id}`, email: primary?.email ?? null });
      }
      return json(200, { ...user, avatar: null, discriminator: "0" });
    }
    json(404, { message: "Not Found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fake: FakeOAuth2Provider<TUser> = {
    origin,
    users,
    nextSignIn: "",
    failNextTokenWith: null,
    env: (prefix) => ({
      [`OAUTH_${prefix}_CLIENT_ID`]: client.clientId,
      [`OAUTH_${prefix}_CLIENT_SECRET`]: client.clientSecret,
      [`OAUTH_${prefix}_AUTHORIZATION_URL`]: `${origin}${paths.authorize}`,
      [`OAUTH_${prefix}_TOKEN_URL`]: `${origin}${paths.token}`,
      [`OAUTH_${prefix}_USERINFO_URL`]: `${origin}${paths.user}`,
      ...(kind === "github" ? { OAUTH_GITHUB_EMAILS_URL: `${origin}${paths.emails}` } : {}),
    }),
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
  return fake;
}

export const startFakeGitHub = () => startFake<GitHubUser>("github", { clientId: "github-client", clientSecret: "github-secret" });
export const startFakeDiscord = () => startFake<DiscordUser>("discord", { clientId: "discord-client", clientSecret: "discord-secret" });
