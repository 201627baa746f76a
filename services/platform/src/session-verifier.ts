import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { createAccessTokenVerifier } from "./auth.ts";
import { createGrpcClient } from "./grpc.ts";

/** An access-token verifier backed by the session service (JWKS and session liveness). */
export function createSessionAccessTokenVerifier(options: { address: string; internalToken: string }) {
  const session = createGrpcClient(SessionServiceService, { name: "session", address: options.address, internalToken: options.internalToken, defaultDeadlineMs: 2_000 });
  const verify = createAccessTokenVerifier({
    fetchJwks: async () => JSON.parse((await session.getJwks({})).json),
    isSessionActive: async (sessionId) => (await session.checkSession({ sessionId })).active,
  });
  return { verify, session };
}
