// Sign-in with providers end to end: a real OpenID provider (oidc-provider) stands in for Google and
// a community SSO, local servers reproduce GitHub's and Discord's endpoints, and the whole system
// runs as real processes. Browsers are cookie jars driven through every redirect.
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startTestOidcProvider, throughProvider, type TestOidcProvider } from "./support/oidc-test-provider.ts";
import { startFakeDiscord, startFakeGitHub, type DiscordUser, type FakeOAuth2Provider, type GitHubUser } from "./support/oauth2-test-providers.ts";

let system: TestSystem;
let idp: TestOidcProvider;
let github: FakeOAuth2Provider<GitHubUser>;
let discord: FakeOAuth2Provider<DiscordUser>;

beforeAll(async () => {
  idp = await startTestOidcProvider();
  github = await startFakeGitHub();
  discord = await startFakeDiscord();
  system = await startTestSystem({
    // Google and the tenant's own SSO are both the local OpenID provider, as two clients.
    OAUTH_GOOGLE_CLIENT_ID: "google-client",
    OAUTH_GOOGLE_CLIENT_SECRET: "google-secret",
    OAUTH_GOOGLE_ISSUER: idp.issuer,
    OAUTH_OIDC_ISSUER: idp.issuer,
    OAUTH_OIDC_CLIENT_ID: "sso-client",
    OAUTH_OIDC_CLIENT_SECRET: "sso-secret",
    OAUTH_OIDC_NAME: "Community SSO",
    ...github.env("GITHUB"),
    ...discord.env("DISCORD"),
    // The throttle test speaks for other client addresses through X-Forwarded-For.
    TRUSTED_PROXIES: "127.0.0.1",
    FIRST_ADMIN_EMAIL: "root@example.com",
    FIRST_ADMIN_USERNAME: "root",
    FIRST_ADMIN_PASSWORD: "root of all accounts",
  });
  const callback = (provider: string) => `${system.baseUrl}/api/v1/auth/oauth/${provider}/callback`;
  idp.configure([
    { clientId: "google-client", clientSecret: "google-secret", redirectUris: [callback("google")] },
    { clientId: "sso-client", clientSecret: "sso-secret", redirectUris: [callback("oidc")] },
  ]);
});
afterAll(async () => {
  await system?.stopAll();
  await Promise.all([idp?.close(), github?.close(), discord?.close()]);
});

let counter = 0;
const unique = (name: string) => `${name}${Date.now().toString(36)}${(counter += 1)}`;
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const browser = () => new HttpClient(system.baseUrl);

/** A person at the local OpenID provider with a fresh email. */
const oidcAccount = (verified = true, email?: string) => {
  const id = unique("acct");
  idp.accounts.set(id, { email: email ?? `${id}@idp.example`, email_verified: verified, name: `Person ${id}`, preferred_username: id });
  return { id, email: email ?? `${id}@idp.example` };
};

/** GET authorize; answers the provider URL it redirects to. */
const authorize = async (client: HttpClient, provider: string, query = "") => {
  const response = await client.get(`/api/v1/auth/oauth/${provider}/authorize${query}`);
  expect(response.status).toBe(302);
  return response.headers.get("location")!;
};

/** The app's callback as the browser would follow it: answers where the app sends the browser. */
const callback = async (client: HttpClient, url: URL) => {
  const response = await client.get(`${url.pathname}${url.search}`);
  expect(response.status).toBe(302);
  return response.headers.get("location")!;
};

/** A whole sign-in: authorize, the provider (as `who`), the callback; answers the final Location. */
const signInWith = async (client: HttpClient, provider: "google" | "oidc" | "github" | "discord", who: string, query = "") => {
  const location = await authorize(client, provider, query);
  if (provider === "github") github.nextSignIn = who;
  else if (provider === "discord") discord.nextSignIn = who;
  else idp.nextSignIn = who;
  return callback(client, await throughProvider(location, system.baseUrl));
};

const register = async (client: HttpClient, email?: string) => {
  const username = unique("pw");
  const user = { email: email ?? `${username}@example.com`, username, password: "a perfectly fine passphrase" };
  const response = await client.post("/api/v1/auth/register", user);
  expect(response.status).toBe(201);
  return { ...user, id: (await json(response)).user.id as string };
};

describe("providers", () => {
  it("lists the providers the default tenant offers", async () => {
    const providers = await json(await browser().get("/api/v1/auth/providers"));
    expect(providers).toEqual([
      { id: "google", name: "Google", type: "oidc" },
      { id: "discord", name: "Discord", type: "oauth2" },
      { id: "github", name: "GitHub", type: "oauth2" },
      { id: "oidc", name: "Community SSO", type: "oidc" },
    ]);
  });

  it("sends the browser to the provider with PKCE S256, state, nonce and the exact redirect URI", async () => {
    const location = new URL(await authorize(browser(), "oidc", "?returnTo=/chats"));
    expect(location.origin).toBe(idp.issuer);
    expect(location.searchParams.get("redirect_uri")).toBe(`${system.baseUrl}/api/v1/auth/oauth/oidc/callback`);
    expect(location.searchParams.get("code_challenge_method")).toBe("S256");
    expect(location.searchParams.get("state")!.length).toBeGreaterThanOrEqual(43);
    expect(location.searchParams.get("nonce")!.length).toBeGreaterThanOrEqual(43);
    expect(location.searchParams.get("client_id")).toBe("sso-client");
  });

  it("answers an unknown provider by sending the browser back with a code", async () => {
    const response = await browser().get("/api/v1/auth/oauth/myspace/authorize");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/login?oauthError=oauth_provider_unknown");
  });
});

describe("signing in with a provider", () => {
  it("creates an OAuth-only user who can set a password later", async () => {
    const account = oidcAccount();
    const client = browser();
    expect(await signInWith(client, "oidc", account.id, "?returnTo=/chats")).toBe("/chats");
    const me = await json(await client.get("/api/v1/me"));
    expect(me).toMatchObject({ email: account.email, username: account.id.toLowerCase(), hasPassword: false, fullName: `Person ${account.id}` });
    expect(await json(await client.get("/api/v1/me/identities"))).toEqual([
      { provider: "oidc", email: account.email, displayName: `Person ${account.id}`, avatarUrl: null, linkedAt: expect.any(String) },
    ]);

    // No password yet: password sign-in fails like any wrong password.
    expect((await browser().post("/api/v1/auth/login", { login: account.email, password: "any password at all" })).status).toBe(401);
    expect((await client.put("/api/v1/me/password", { newPassword: "a brand new passphrase" })).status).toBe(204);
    expect((await json(await client.get("/api/v1/me"))).hasPassword).toBe(true);
    expect((await browser().post("/api/v1/auth/login", { login: account.email, password: "a brand new passphrase" })).status).toBe(200);

    // The same provider account signs in to the same user from another browser.
    const other = browser();
    expect(await signInWith(other, "oidc", account.id)).toBe("/");
    expect((await json(await other.get("/api/v1/me"))).id).toBe(me.id);
  });

  it("links a provider-verified email to the existing account", async () => {
    const existing = await register(browser());
    const account = oidcAccount(true, existing.email);
    const client = browser();
    expect(await signInWith(client, "google", account.id)).toBe("/");
    expect((await json(await client.get("/api/v1/me"))).id).toBe(existing.id);
    expect((await json(await client.get("/api/v1/me/identities"))).map((identity: { provider: string }) => identity.provider)).toEqual(["google"]);
  });

  it("never links an unverified email by itself; the owner links it explicitly", async () => {
    const ownerBrowser = browser();
    const owner = await register(ownerBrowser);
    const discordId = unique("1");
    discord.users.set(discordId, { id: discordId, username: unique("disc"), global_name: "Someone", email: owner.email, verified: false });

    const stranger = browser();
    expect(await signInWith(stranger, "discord", discordId)).toBe("/login?oauthError=oauth_account_exists");
    expect((await stranger.get("/api/v1/me")).status).toBe(401);
    expect(await json(await ownerBrowser.get("/api/v1/me/identities"))).toEqual([]);

    // Signed in, the owner links the same Discord account on purpose.
    expect(await signInWith(ownerBrowser, "discord", discordId, "?intent=link&returnTo=/settings")).toBe("/settings");
    expect((await json(await ownerBrowser.get("/api/v1/me/identities")))[0]).toMatchObject({ provider: "discord", email: owner.email, displayName: "Someone" });
    const later = browser();
    await signInWith(later, "discord", discordId);
    expect((await json(await later.get("/api/v1/me"))).id).toBe(owner.id);
  });

  it("refuses a new account with an unverified email", async () => {
    const discordId = unique("2");
    discord.users.set(discordId, { id: discordId, username: unique("disc"), global_name: null, email: `${discordId}@discord.example`, verified: false });
    expect(await signInWith(browser(), "discord", discordId)).toBe("/login?oauthError=oauth_email_unverified");
  });

  it("takes GitHub's verified primary email and derives a free username from the login", async () => {
    const taken = await register(browser());
    const githubId = Math.floor(Math.random() * 1e9);
    github.users.set(String(githubId), {
      id: githubId,
      login: taken.username.toUpperCase(),
      name: "Octo Cat",
      emails: [
        { email: `${githubId}-old@users.example`, primary: false, verified: true },
        { email: `${githubId}@users.example`, primary: true, verified: true },
      ],
    });
    const client = browser();
    expect(await signInWith(client, "github", String(githubId))).toBe("/");
    const me = await json(await client.get("/api/v1/me"));
    expect(me).toMatchObject({ email: `${githubId}@users.example`, fullName: "Octo Cat", hasPassword: false });
    expect(me.username).toBe(`${taken.username}-2`);
  });

  it("adds the account to a browser where someone else is signed in (intent=login)", async () => {
    const client = browser();
    const first = await register(client);
    const account = oidcAccount();
    await signInWith(client, "oidc", account.id);
    const accounts = await json<Array<{ email: string; active: boolean }>>(await client.get("/api/v1/accounts"));
    expect(accounts.map((entry) => [entry.email, entry.active])).toEqual([
      [first.email, false],
      [account.email, true],
    ]);
  });

  it("comes back with a translated code when the person refuses or the provider is down", async () => {
    expect(await signInWith(browser(), "oidc", "deny")).toBe("/login?oauthError=oauth_denied");
    const githubId = Math.floor(Math.random() * 1e9);
    github.users.set(String(githubId), { id: githubId, login: unique("gh"), name: null, emails: [{ email: `${githubId}@users.example`, primary: true, verified: true }] });
    github.failNextTokenWith = 503;
    expect(await signInWith(browser(), "github", String(githubId))).toBe("/login?oauthError=oauth_provider_unavailable");
  });
});

describe("linked identities", () => {
  it("links and unlinks, never the last way to sign in", async () => {
    const account = oidcAccount();
    const client = browser();
    await signInWith(client, "oidc", account.id);
    expect((await client.delete("/api/v1/me/identities/oidc")).status).toBe(409);
    expect((await client.delete("/api/v1/me/identities/github")).status).toBe(404);

    const githubId = Math.floor(Math.random() * 1e9);
    github.users.set(String(githubId), { id: githubId, login: unique("gh"), name: null, emails: [{ email: `${githubId}@users.example`, primary: true, verified: false }] });
    expect(await signInWith(client, "github", String(githubId), "?intent=link&returnTo=/settings%3Ftab%3Daccounts")).toBe("/settings?tab=accounts");
    expect((await json(await client.get("/api/v1/me/identities"))).map((identity: { provider: string }) => identity.provider).sort()).toEqual(["github", "oidc"]);

    expect((await client.delete("/api/v1/me/identities/oidc")).status).toBe(204);
    const problem = await client.delete("/api/v1/me/identities/github");
    expect(problem.status).toBe(409);
    expect(await json(problem)).toMatchObject({ type: expect.stringMatching(/last_sign_in_method$/) });

    // With a password, the last provider can go.
    expect((await client.put("/api/v1/me/password", { newPassword: "now I have a passphrase" })).status).toBe(204);
    expect((await client.delete("/api/v1/me/identities/github")).status).toBe(204);
    expect(await json(await client.get("/api/v1/me/identities"))).toEqual([]);
  });

  it("refuses to link an identity that belongs to someone else (409)", async () => {
    const account = oidcAccount();
    await signInWith(browser(), "oidc", account.id);
    const other = browser();
    await register(other);
    expect(await signInWith(other, "oidc", account.id, "?intent=link&returnTo=/settings")).toBe("/settings?oauthError=oauth_identity_taken");
    expect(await json(await other.get("/api/v1/me/identities"))).toEqual([]);
  });

  it("links to the user who started linking, not to whoever is active when the provider answers", async () => {
    const client = browser();
    const first = await register(client);
    await register(client);
    expect((await client.post("/api/v1/accounts/switch", { userId: first.id })).status).toBe(200);
    const location = await authorize(client, "oidc", "?intent=link&returnTo=/settings");
    const second = (await json<Array<{ userId: string; active: boolean }>>(await client.get("/api/v1/accounts"))).find((account) => !account.active)!;
    expect((await client.post("/api/v1/accounts/switch", { userId: second.userId })).status).toBe(200);
    idp.nextSignIn = oidcAccount().id;
    expect(await callback(client, await throughProvider(location, system.baseUrl))).toBe("/settings?oauthError=oauth_link_user_changed");
    expect(await json(await client.get("/api/v1/me/identities"))).toEqual([]);
  });

  it("needs a signed-in user to link", async () => {
    const response = await browser().get("/api/v1/auth/oauth/oidc/authorize?intent=link&returnTo=/settings");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/settings?oauthError=unauthenticated");
  });

  it("does not let API keys manage identities", async () => {
    const client = browser();
    await register(client);
    const { key } = await json(await client.post("/api/v1/me/api-keys", { name: "script" }));
    const response = await fetch(`${system.baseUrl}/api/v1/me/identities`, { headers: { authorization: `Bearer ${key}` } });
    // Authenticated, but managing ways to sign in needs a browser session (as sessions and keys do).
    expect(response.status).toBe(403);
  });
});

describe("an attacker", () => {
  const started = async (client: HttpClient, who: string) => {
    const location = await authorize(client, "oidc");
    idp.nextSignIn = who;
    return throughProvider(location, system.baseUrl);
  };

  it("cannot replay a callback", async () => {
    const account = oidcAccount();
    const client = browser();
    const url = await started(client, account.id);
    expect(await callback(client, url)).toBe("/");
    expect(await callback(client, url)).toBe("/login?oauthError=oauth_state_invalid");
  });

  it("cannot complete someone else's flow in another browser (state bound to the browser)", async () => {
    const account = oidcAccount();
    const url = await started(browser(), account.id);
    const victim = browser();
    expect(await callback(victim, url)).toBe("/login?oauthError=oauth_state_invalid");
    expect((await victim.get("/api/v1/me")).status).toBe(401);
  });

  it("cannot change the state", async () => {
    const account = oidcAccount();
    const client = browser();
    const url = await started(client, account.id);
    url.searchParams.set("state", `${url.searchParams.get("state")}x`);
    expect(await callback(client, url)).toBe("/login?oauthError=oauth_state_invalid");
  });

  it("cannot forge the issuer (RFC 9207)", async () => {
    const account = oidcAccount();
    const client = browser();
    const url = await started(client, account.id);
    expect(url.searchParams.get("iss")).toBe(idp.issuer);
    url.searchParams.set("iss", "https://evil.example");
    expect(await callback(client, url)).toBe("/login?oauthError=oauth_failed");
    expect((await client.get("/api/v1/me")).status).toBe(401);
  });

  it("cannot swap the nonce or the PKCE challenge of the authorization request", async () => {
    for (const parameter of ["nonce", "code_challenge"]) {
      const account = oidcAccount();
      const client = browser();
      const location = new URL(await authorize(client, "oidc"));
      location.searchParams.set(parameter, "A".repeat(43));
      idp.nextSignIn = account.id;
      expect(await callback(client, await throughProvider(location.href, system.baseUrl))).toBe("/login?oauthError=oauth_failed");
      expect((await client.get("/api/v1/me")).status).toBe(401);
    }
  });

  it("cannot inject a code from another flow", async () => {
    const account = oidcAccount();
    const attacker = browser();
    const stolen = await started(attacker, account.id);
    const victim = browser();
    const own = await started(victim, oidcAccount().id);
    own.searchParams.set("code", stolen.searchParams.get("code")!);
    expect(await callback(victim, own)).toBe("/login?oauthError=oauth_failed");
  });

  it("cannot fill the server with unfinished flows: starts count against the per-IP sign-in throttle", async () => {
    const client = browser();
    const from = { "x-forwarded-for": "203.0.113.77" };
    const started = async () => (await client.get("/api/v1/auth/oauth/oidc/authorize", from)).headers.get("location")!;
    for (let index = 0; index < 50; index += 1) expect(await started()).toMatch(new RegExp(`^${idp.issuer}/`));
    expect(await started()).toBe("/login?oauthError=login_throttled");
    // Another address is not affected.
    expect(await authorize(browser(), "oidc")).toMatch(new RegExp(`^${idp.issuer}/`));
  });

  it.each(["//evil.example", "/\\evil.example", "https://evil.example/", "/%09/evil.example", "%2F%2Fevil.example", "/%5C%5Cevil.example%2F", "/%252F%252Fevil.example"])("cannot redirect the browser off-site with returnTo=%s", async (returnTo) => {
    const response = await browser().get(`/api/v1/auth/oauth/oidc/authorize?returnTo=${returnTo}`);
    if (response.status === 400) return void expect(await json(response)).toMatchObject({ errors: [{ field: "returnTo" }] });
    // Accepted only as a path of this site.
    expect(response.status).toBe(302);
    const account = oidcAccount();
    const client = browser();
    const final = await signInWith(client, "oidc", account.id, `?returnTo=${returnTo}`);
    expect(final.startsWith("/") && !final.startsWith("//") && !final.includes("\\")).toBe(true);
    expect(new URL(final, system.baseUrl).origin).toBe(new URL(system.baseUrl).origin);
  });
});

describe("tenant settings", () => {
  it("lets an admin choose the providers offered and turn automatic linking off", async () => {
    const admin = browser();
    expect((await admin.post("/api/v1/auth/login", { login: "root", password: "root of all accounts" })).status).toBe(200);
    const before = await json(await admin.get("/api/v1/admin/settings"));
    expect(before).toMatchObject({ signInProviders: ["google", "discord", "github", "oidc"], autoLinkVerifiedEmail: null });
    try {
      const unknown = await admin.patch("/api/v1/admin/settings", { signInProviders: ["myspace"] });
      expect(unknown.status).toBe(400);
      expect((await json(unknown)).errors[0].field).toMatch(/^signInProviders/);

      const changed = await admin.patch("/api/v1/admin/settings", { signInProviders: ["github", "oidc"], autoLinkVerifiedEmail: false });
      expect(changed.status).toBe(200);
      expect(await json(changed)).toMatchObject({ signInProviders: ["github", "oidc"], autoLinkVerifiedEmail: false });
      expect((await json<Array<{ id: string }>>(await browser().get("/api/v1/auth/providers"))).map((provider) => provider.id)).toEqual(["github", "oidc"]);
      const google = await browser().get("/api/v1/auth/oauth/google/authorize");
      expect(google.headers.get("location")).toBe("/login?oauthError=oauth_provider_unknown");

      // Verified or not, the same email no longer links the existing account by itself.
      const existing = await register(browser());
      expect(await signInWith(browser(), "oidc", oidcAccount(true, existing.email).id)).toBe("/login?oauthError=oauth_account_exists");

      const audit = await json<{ items: Array<{ action: string; after: { signInProviders?: string[]; autoLinkVerifiedEmail?: boolean } }> }>(await admin.get("/api/v1/admin/audit"));
      expect(audit.items.find((entry) => entry.action === "settings.update")?.after).toMatchObject({ signInProviders: ["github", "oidc"], autoLinkVerifiedEmail: false });
    } finally {
      expect((await admin.patch("/api/v1/admin/settings", { signInProviders: before.signInProviders, autoLinkVerifiedEmail: true })).status).toBe(200);
    }
  });
});

describe("in the browser", () => {
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

  it("signs in by clicking the provider button, and shows a translated message when the person refuses", async () => {
    if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (npm test installs Debian's chromium)`);
    const chrome = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
    try {
      const context = await chrome.newContext({ viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      idp.nextSignIn = "deny";
      await page.goto(`${system.baseUrl}/login`);
      await page.getByTestId("provider-oidc").click();
      await page.waitForURL(/\/login\?oauthError=oauth_denied/, { timeout: 15_000 });
      await expect.poll(() => page.getByTestId("oauth-error").textContent(), { timeout: 15_000 }).toContain("cancelled at the provider");

      const account = oidcAccount();
      idp.nextSignIn = account.id;
      await page.getByTestId("provider-oidc").click();
      await page.waitForURL((url) => url.pathname === "/", { timeout: 15_000 });
      const me = await page.evaluate(async () => (await fetch("/api/v1/me")).json());
      expect(me).toMatchObject({ email: account.email, hasPassword: false });

      // Settings → Linked accounts: the only way in cannot go; link GitHub, then the first can.
      await page.goto(`${system.baseUrl}/settings`);
      await page.getByTestId("unlink-oidc").click();
      await expect.poll(() => page.getByTestId("unlink-error").textContent(), { timeout: 15_000 }).toContain("only way to sign in");
      const githubId = Math.floor(Math.random() * 1e9);
      github.users.set(String(githubId), { id: githubId, login: unique("gh"), name: "Browser Cat", emails: [{ email: `${githubId}@users.example`, primary: true, verified: true }] });
      github.nextSignIn = String(githubId);
      await page.getByTestId("link-github").click();
      await page.waitForURL((url) => url.pathname === "/settings" && !url.search.includes("oauthError"), { timeout: 15_000 });
      await expect.poll(() => page.getByTestId("identity-github").textContent(), { timeout: 15_000 }).toContain(`${githubId}@users.example`);
      await page.getByTestId("unlink-oidc").click();
      await expect.poll(() => page.getByTestId("identity-oidc").count(), { timeout: 15_000 }).toBe(0);
      await context.close();
    } finally {
      await chrome.close();
    }
  });
});
