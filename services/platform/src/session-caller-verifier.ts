import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { createCallerVerifier, type CallerVerifier } from "./auth.ts";
import { createGrpcClient } from "./grpc.ts";

/** A caller verifier whose JWKS comes from the session service (asked once, and on key rotation). */
export function createSessionCallerVerifier(options: { sessionAddress: string; internalToken: string }): { verify: CallerVerifier; close(): void } {
  const session = createGrpcClient(SessionServiceService, { name: "session", address: options.sessionAddress, internalToken: options.internalToken, defaultDeadlineMs: 2_000 });
  return {
    verify: createCallerVerifier(async () => JSON.parse((await session.getJwks({})).json)),
    close: () => session.close(),
  };
}
