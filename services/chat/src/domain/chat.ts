import { AppError, validationFailed, type Caller, type Owner } from "@tessera/platform";

/** Whose data a call touches (every query is scoped by both), and who acts: the platform's types. */
export type { Caller, Owner };

export interface Chat {
  id: string;
  tenantId: string;
  userId: string;
  title: string;
  model: string;
  createdAt: Date;
  updatedAt: Date;
}

export type MessageRole = "user" | "assistant";
/** `streaming` only while an answer is being written; every answer ends complete, aborted or failed. */
export type MessageStatus = "streaming" | "complete" | "aborted" | "failed";

export interface ChatMessage {
  id: string;
  tenantId: string;
  userId: string;
  chatId: string;
  clientMessageId: string;
  seq: number;
  role: MessageRole;
  content: string;
  model: string;
  status: MessageStatus;
  promptTokens: number;
  completionTokens: number;
  createdAt: Date;
  /** Assistant messages: the user message they answer. */
  replyTo?: string | undefined;
}

export const DEFAULT_CHAT_TITLE = "New chat";
export const MAX_TITLE_LENGTH = 200;
export const MAX_MESSAGE_LENGTH = 32_000;
export const DEFAULT_MAX_CHATS = 10;

export function normaliseTitle(title: string | undefined): string {
  const trimmed = (title ?? "").replace(/\s+/g, " ").trim();
  if (trimmed.length > MAX_TITLE_LENGTH) throw validationFailed([{ field: "title", message: `At most ${MAX_TITLE_LENGTH} characters.` }]);
  return trimmed.length === 0 ? DEFAULT_CHAT_TITLE : trimmed;
}

/** A chat's first message names it when the user left the default title. */
export function titleFromMessage(content: string): string {
  const line = content.replace(/\s+/g, " ").trim();
  return line.length <= 60 ? line : `${line.slice(0, 57).trimEnd()}…`;
}

/** Page sizes: at most 100, as every list in the API. */
export function clampLimit(limit: number | undefined, fallback = 50): number {
  if (!limit || limit <= 0) return fallback;
  return Math.min(limit, 100);
}

const CLIENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

export function validateNewMessage(content: string, clientMessageId: string): void {
  const errors = [];
  if (content.trim().length === 0) errors.push({ field: "content", message: "Write something." });
  else if (content.length > MAX_MESSAGE_LENGTH) errors.push({ field: "content", message: `At most ${MAX_MESSAGE_LENGTH} characters.` });
  if (!CLIENT_ID_PATTERN.test(clientMessageId)) errors.push({ field: "clientMessageId", message: "1-100 characters: letters, digits, . _ : -" });
  if (errors.length > 0) throw validationFailed(errors);
}

/** The assistant message answering a user message is stored under a client id derived from the user's. */
export const replyClientMessageId = (clientMessageId: string) => `${clientMessageId}#reply`;

/** Past maxChats a new chat is refused (the user deletes one first). */
export function ensureChatAllowed(existing: number, maxChats: number): void {
  const limit = maxChats > 0 ? maxChats : DEFAULT_MAX_CHATS;
  if (existing >= limit) {
    throw new AppError("chat_limit_reached", 409, `You can have at most ${limit} chats; delete one to start another.`, { extensions: { maxChats: limit } });
  }
}

/** Silenced users read but do not send (SPEC §3); disabled users cannot act at all. */
export function ensureMaySend(status: string): void {
  if (status === "silenced") throw new AppError("user_silenced", 403, "Your account is silenced: you can read your chats but not send messages.");
  if (status !== "active") throw new AppError("user_disabled", 403, "Your account is disabled.");
}
