export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export type UsageSource = "web" | "api";
export type UsageOutcome = "complete" | "aborted" | "failed";

/** One completion's usage, written with the record it belongs to and relayed to the bus (SPEC §7). */
export interface UsageRecord {
  eventId: string;
  occurredAt: Date;
  tenantId: string;
  userId: string;
  chatId: string;
  messageId: string;
  model: string;
  usage: TokenUsage;
  source: UsageSource;
  outcome: UsageOutcome;
  reservationId: string;
}

export const usageOf = (promptTokens: number, completionTokens: number): TokenUsage => ({
  promptTokens,
  completionTokens,
  totalTokens: promptTokens + completionTokens,
});
