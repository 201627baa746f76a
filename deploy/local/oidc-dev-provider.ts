// A local OpenID provider for trying "sign in with a provider" without a real one: the provider the
// end-to-end tests use (tests/e2e/support/oidc-test-provider.ts), with one client for Tessera and one
// person who is always signed in there. `OAUTH_DEV_PROVIDER=1 npm start` runs it; see README.
import { startTestOidcProvider } from "../../tests/e2e/support/oidc-test-provider.ts";

const port = Number(process.env.OAUTH_DEV_PROVIDER_PORT ?? 8097);
const publicBaseUrl = process.env.PUBLIC_BASE_URL ?? "http://localhost:8080";
const email = process.env.OAUTH_DEV_PROVIDER_EMAIL ?? "sso-demo@example.com";

const provider = await startTestOidcProvider({ port });
provider.accounts.set("sso-demo", { email, email_verified: true, name: "SSO Demo", preferred_username: "sso-demo" });
provider.nextSignIn = "sso-demo";
provider.configure([
  {
    clientId: process.env.OAUTH_OIDC_CLIENT_ID ?? "tessera-local",
    clientSecret: process.env.OAUTH_OIDC_CLIENT_SECRET ?? "tessera-local-secret",
    redirectUris: [new URL("/api/v1/auth/oauth/oidc/callback", publicBaseUrl).href],
  },
]);
process.stdout.write(`local OpenID provider at ${provider.issuer} (everyone who signs in there is ${email})\n`);
const stop = () => void provider.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
