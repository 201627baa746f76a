import { ensureMaySend, type Caller } from "../domain/chat.ts";
import type { ChatDependencies } from "./dependencies.ts";
import type { UsageSource } from "../domain/usage.ts";

/**
 * Lets a message through: the user may send (not silenced or disabled) and a message of today's
 * quota is reserved. Both are asked at once (they are the slowest part of a send); a reservation
 * made for a user who may not send is given back at once.
 */
export async function admitSend(
  deps: Pick<ChatDependencies, "users" | "quota" | "newUuid">,
  caller: Caller,
  estimatedTokens = 0,
  send?: { model: string; source: UsageSource },
): Promise<{ reservationId: string; release: () => Promise<void> }> {
  const reservationId = deps.newUuid();
  const owner = { tenantId: caller.tenantId, userId: caller.userId };
  const release = () => deps.quota.release(caller, reservationId).catch(() => undefined);
  const [user, reservation] = await Promise.allSettled([deps.users.get(owner), deps.quota.reserve(caller, reservationId, estimatedTokens, send)]);
  try {
    if (user.status === "rejected") throw user.reason;
    ensureMaySend(user.value.status);
  } catch (error) {
    if (reservation.status === "fulfilled") await release();
    throw error;
  }
  if (reservation.status === "rejected") throw reservation.reason;
  return { reservationId, release };
}
