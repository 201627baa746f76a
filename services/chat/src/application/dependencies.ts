import type { Clock } from "@tessera/platform";
import type {
  ChatRepository,
  CompletionRecordRepository,
  LlmGateway,
  MessageRepository,
  ModelCatalog,
  QuotaGate,
  TenantChatSettings,
  TokenCounter,
  UserDirectory,
} from "../domain/ports.ts";

/** Everything the chat use cases need, as ports (main.ts supplies the adapters). */
export interface ChatDependencies {
  chats: ChatRepository;
  messages: MessageRepository;
  completions: CompletionRecordRepository;
  quota: QuotaGate;
  users: UserDirectory;
  models: ModelCatalog;
  tenantSettings: TenantChatSettings;
  llm: LlmGateway;
  tokens: TokenCounter;
  clock: Clock;
  newId(): string;
  newUuid(): string;
  /** Tells the outbox relay that an event is waiting (it also polls). */
  usageRecorded(): void;
  /** How many earlier messages of the chat go into the prompt. */
  historyMessages: number;
  /** The installation's default of the most tokens one answer may take (a tenant may set its own). */
  maxCompletionTokens: number;
  /** How often a streaming answer is saved and checked for a stop request. */
  checkpointIntervalMs: number;
}
