import type { Caller, Chat, ChatMessage, MessageStatus, Owner } from "./chat.ts";
import type { TokenUsage, UsageRecord, UsageSource } from "./usage.ts";

export interface ChatPage {
  items: Chat[];
  nextCursor: string;
}

export interface ChatRepository {
  countOwned(owner: Owner): Promise<number>;
  create(chat: Chat): Promise<void>;
  find(owner: Owner, id: string): Promise<Chat | null>;
  /** Most recently updated first. */
  list(owner: Owner, limit: number, cursor: string | undefined): Promise<ChatPage>;
  update(owner: Owner, id: string, changes: { title?: string; model?: string }, now: Date): Promise<Chat | null>;
  delete(owner: Owner, id: string): Promise<boolean>;
  /** Atomically takes `count` sequence numbers of the chat (one $inc); resolves with the first, null when the chat is gone. */
  takeSequence(owner: Owner, id: string, count: number, now: Date): Promise<number | null>;
}

/** A new assistant message while it is being written. */
export interface PendingReply {
  message: ChatMessage;
  reservationId: string;
  source: UsageSource;
  /** Prompt size counted locally, for recovery when the process dies mid-answer. */
  estimatedPromptTokens: number;
}

export interface FinishedReply {
  status: Exclude<MessageStatus, "streaming">;
  content: string;
  usage: TokenUsage;
  finishedAt: Date;
}

export interface MessageRepository {
  findByClientId(owner: Owner, chatId: string, clientMessageId: string): Promise<ChatMessage | null>;
  /** Inserts a user message; "duplicate" when the chat already has its clientMessageId. */
  insertUserMessage(message: ChatMessage): Promise<"inserted" | "duplicate">;
  insertReply(reply: PendingReply): Promise<void>;
  find(owner: Owner, chatId: string, id: string): Promise<ChatMessage | null>;
  /** Ascending by seq; `before`/`after` exclusive; without either, the latest `limit`. */
  list(owner: Owner, chatId: string, page: { before?: number | undefined; after?: number | undefined; limit: number }): Promise<ChatMessage[]>;
  /** Saves the answer so far and says whether a stop was asked for (from any process). */
  checkpoint(id: string, content: string, now: Date): Promise<{ stopRequested: boolean }>;
  /** Flags an answer to stop; false when no such message of this chat exists (the reply or the user message it answers). */
  requestStop(owner: Owner, chatId: string, messageId: string): Promise<boolean>;
  /**
   * Completes a streaming answer and records its usage (see UsageRecorder); false when it was
   * already finished (so it is counted once).
   */
  finish(id: string, reply: FinishedReply, usage: UsageRecord | null): Promise<boolean>;
  /** Answers still "streaming" whose writer stopped saving them before `before` (the process died). */
  findAbandoned(before: Date, limit: number): Promise<Array<PendingReply & { checkpointedAt: Date }>>;
}

/**
 * Records a completion's usage: its event is published (confirmed) on completion; kept in the
 * outbox only while the broker does not confirm. Never throws (an event neither confirmed nor
 * stored leaves its reservation to be charged at its estimate).
 */
export interface UsageRecorder {
  record(usage: UsageRecord): Promise<void>;
}

/** API completions keep no record of their own: only their usage is recorded. */
export type CompletionRecordRepository = UsageRecorder;

/** Where usage events wait while the broker does not confirm them. */
export interface UsageOutbox {
  /** Stores an event (storing the same event twice keeps one). */
  add(usage: UsageRecord): Promise<void>;
}

/** Usage events waiting for the bus, as the relay reads them. */
export interface OutboxStore {
  /** Claims up to `limit` unsent events for `leaseMs` so other replicas skip them meanwhile. */
  claimPending(limit: number, leaseMs: number, now: Date): Promise<UsageRecord[]>;
  markSent(eventIds: string[], now: Date): Promise<void>;
  /** Gives claimed events back at once (the broker refused them), instead of when their lease ends. */
  releaseClaims(eventIds: string[]): Promise<void>;
}

export interface UsagePublisher {
  /** Resolves once the broker confirmed the event (persistent). */
  publish(record: UsageRecord): Promise<void>;
}

export interface QuotaGate {
  /**
   * Reserves one message and the request's estimated tokens (0: none) of today's allowance;
   * throws 429 `quota_exceeded` (limits, used, resetAt) when at a limit.
   */
  reserve(caller: Caller, reservationId: string, estimatedTokens?: number, send?: { model: string; source: UsageSource }): Promise<void>;
  release(caller: Caller, reservationId: string): Promise<void>;
}

export interface UserDirectory {
  get(owner: Owner): Promise<{ status: string; maxChats: number }>;
}

export interface ModelInfo {
  id: string;
  name: string;
}

export interface ModelCatalog {
  modelsFor(tenantId: string): Promise<ModelInfo[]>;
}

/** A tenant's own choices that chat applies to each request (answered from the tenant-settings cache). */
export interface TenantChatSettings {
  /** The most tokens one answer may take, or null for the installation's default. */
  maxCompletionTokens(tenantId: string): Promise<number | null>;
}

export interface PromptMessage {
  role: string;
  content: string;
  name?: string | undefined;
}

export interface UpstreamRequest {
  tenantId: string;
  model: string;
  messages: PromptMessage[];
  parameters: Record<string, unknown>;
  /** Whether the answer is wanted as it comes; false asks the upstream for the whole answer in one response. */
  stream: boolean;
}

export type UpstreamChunk = { type: "delta"; text: string } | { type: "usage"; usage: TokenUsage } | { type: "finish"; reason: string };

export interface LlmGateway {
  /**
   * Streams an answer. Failing keys are retried on others before the first chunk; an error
   * thrown before any chunk means nothing was generated.
   */
  stream(request: UpstreamRequest, signal: AbortSignal): AsyncIterable<UpstreamChunk>;
}

export interface TokenCounter {
  countPrompt(messages: PromptMessage[]): number;
  countText(text: string): number;
}
