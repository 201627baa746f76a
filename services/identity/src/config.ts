import { commonServiceEnv, defaultPorts, env, parseConfig, serviceAddressEnv, sessionGrantSecretEnv, z } from "@tessera/platform";
import { isAllowedProviderUrl, type ProviderSettings } from "./adapters/oauth/openid-client-gateway.ts";

/** A provider URL: https, or plain http on a loopback address (local development and tests). */
const providerUrl = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value === "" ? undefined : value))
  .refine((value) => value === undefined || isAllowedProviderUrl(value), "must be an https:// URL (http:// only on a loopback address)");

const providerEnv = (name: "GOOGLE" | "DISCORD" | "GITHUB" | "OIDC") => ({
  [`OAUTH_${name}_CLIENT_ID`]: env.optionalString,
  [`OAUTH_${name}_CLIENT_SECRET`]: env.optionalString,
  [`OAUTH_${name}_ISSUER`]: providerUrl,
  [`OAUTH_${name}_AUTHORIZATION_URL`]: providerUrl,
  [`OAUTH_${name}_TOKEN_URL`]: providerUrl,
  [`OAUTH_${name}_USERINFO_URL`]: providerUrl,
});

export const config = parseConfig("identity", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  REDIS_URL: env.redisUrl,
  IDENTITY_GRPC_PORT: env.port(defaultPorts.identity.grpc),
  IDENTITY_PROBE_PORT: env.port(defaultPorts.identity.probe),
  SESSION_GRPC_ADDRESS: serviceAddressEnv("session"),
  SESSION_GRANT_SECRET: sessionGrantSecretEnv,
  // Tenant settings (enabled sign-in providers) are read from Redis; the admin service answers when they are missing there.
  ADMIN_GRPC_ADDRESS: serviceAddressEnv("admin"),
  FIRST_ADMIN_EMAIL: env.optionalString,
  FIRST_ADMIN_USERNAME: env.optionalString,
  FIRST_ADMIN_PASSWORD: env.optionalString,
  OPERATOR_EMAIL: env.optionalString,
  OPERATOR_PASSWORD: env.optionalString,
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().positive().default(5),
  LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().positive().default(50),
  LOGIN_THROTTLE_WINDOW_SECONDS: z.coerce.number().int().positive().default(900),
  LOGIN_LOCKOUT_BASE_SECONDS: z.coerce.number().int().positive().default(60),
  LOGIN_LOCKOUT_MAX_SECONDS: z.coerce.number().int().positive().default(3600),
  REGISTRATION_MAX_PER_IP: z.coerce.number().int().positive().default(10),
  REGISTRATION_MAX_PER_TENANT: z.coerce.number().int().positive().default(200),
  ...providerEnv("GOOGLE"),
  ...providerEnv("DISCORD"),
  ...providerEnv("GITHUB"),
  OAUTH_GITHUB_EMAILS_URL: providerUrl,
  ...providerEnv("OIDC"),
  OAUTH_OIDC_NAME: z.string().max(60).default("Single sign-on"),
  // Whether a provider-verified email links an existing account of the default tenant by itself.
  OAUTH_AUTO_LINK_VERIFIED_EMAIL: z.enum(["true", "false"]).default("true").transform((value) => value === "true"),
});

/** The sign-in providers the environment configures (a provider needs its client id and secret; OIDC also its issuer). */
export function configuredProviders(values: Record<string, unknown> = config): ProviderSettings[] {
  const read = (key: string) => values[key] as string | undefined;
  const names = { GOOGLE: "Google", DISCORD: "Discord", GITHUB: "GitHub", OIDC: read("OAUTH_OIDC_NAME") ?? "Single sign-on" } as const;
  const providers: ProviderSettings[] = [];
  for (const key of ["GOOGLE", "DISCORD", "GITHUB", "OIDC"] as const) {
    const clientId = read(`OAUTH_${key}_CLIENT_ID`);
    const clientSecret = read(`OAUTH_${key}_CLIENT_SECRET`);
    if (!clientId || !clientSecret || (key === "OIDC" && !read("OAUTH_OIDC_ISSUER"))) continue;
    providers.push({
      id: key.toLowerCase() as ProviderSettings["id"],
      name: names[key],
      clientId,
      clientSecret,
      issuer: read(`OAUTH_${key}_ISSUER`),
      authorizationUrl: read(`OAUTH_${key}_AUTHORIZATION_URL`),
      tokenUrl: read(`OAUTH_${key}_TOKEN_URL`),
      userinfoUrl: read(`OAUTH_${key}_USERINFO_URL`),
      emailsUrl: key === "GITHUB" ? read("OAUTH_GITHUB_EMAILS_URL") : undefined,
    });
  }
  return providers;
}
