import { env, secretEnv, z } from "./config.ts";

/** Variables every service reads; each service's config.ts spreads these into its own schema. */
export const commonServiceEnv = {
  LOG_LEVEL: env.logLevel,
  // "development" allows the committed development secrets (.env.compose, the k8s dev overlay);
  // anything else (the default) refuses them, and placeholders are refused in every mode.
  TESSERA_MODE: z.enum(["production", "development"]).default("production"),
  INTERNAL_GRPC_TOKEN: secretEnv(z.string({ error: "required: a shared secret (16+ characters) that every internal gRPC call presents" }).min(16, "must be at least 16 characters")),
  // Where gRPC listens: all interfaces in containers; `npm start` and the tests use 127.0.0.1.
  GRPC_BIND_HOST: z.string().default("0.0.0.0"),
  REDIS_KEY_PREFIX: z.string().default("tessera:"),
};

/**
 * Identity's grant to open a session (services/platform/src/session-grant.ts): held by identity and
 * the session service only, so the shared internal token alone cannot mint a session.
 */
export const sessionGrantSecretEnv = secretEnv(
  z.string({ error: "required: a secret (32+ characters) only identity and session hold; identity signs session grants with it" }).min(32, "must be at least 32 characters"),
);

/** Default addresses and ports of the services on one machine. */
export const defaultPorts = {
  identity: { grpc: 50051, probe: 9101 },
  session: { grpc: 50052, probe: 9102 },
  chat: { grpc: 50053, probe: 9103 },
  quota: { grpc: 50054, probe: 9104 },
  admin: { grpc: 50055, probe: 9105 },
} as const;

export const serviceAddressEnv = (service: keyof typeof defaultPorts) => env.address(`127.0.0.1:${defaultPorts[service].grpc}`);
