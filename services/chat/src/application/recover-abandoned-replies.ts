import { usageOf, type UsageRecord } from "../domain/usage.ts";
import type { ChatDependencies } from "./dependencies.ts";

/**
 * Answers left "streaming" by a process that died keep what was saved, become aborted and are
 * counted (with the locally counted tokens), so no message stays open or uncounted.
 */
export async function recoverAbandonedReplies(
  deps: Pick<ChatDependencies, "messages" | "tokens" | "clock" | "newUuid" | "usageRecorded">,
  staleAfterMs: number,
): Promise<number> {
  const now = deps.clock.now();
  const abandoned = await deps.messages.findAbandoned(new Date(now.getTime() - staleAfterMs), 100);
  let recovered = 0;
  for (const pending of abandoned) {
    const { message } = pending;
    const usage = usageOf(pending.estimatedPromptTokens, deps.tokens.countText(message.content));
    const record: UsageRecord = {
      eventId: deps.newUuid(),
      occurredAt: now,
      tenantId: message.tenantId,
      userId: message.userId,
      chatId: message.chatId,
      messageId: message.id,
      model: message.model,
      usage,
      source: pending.source,
      outcome: "aborted",
      reservationId: pending.reservationId,
    };
    if (await deps.messages.finish(message.id, { status: "aborted", content: message.content, usage, finishedAt: now }, record)) recovered += 1;
  }
  if (recovered > 0) deps.usageRecorded();
  return recovered;
}
