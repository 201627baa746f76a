import { notFound, validationFailed } from "@tessera/platform";
import { clampLimit, type ChatMessage, type Owner } from "../domain/chat.ts";
import type { ChatDependencies } from "./dependencies.ts";

/** History in both directions (before/after a sequence number) so an offline client fetches only what it lacks. */
export async function listMessages(
  deps: Pick<ChatDependencies, "chats" | "messages">,
  owner: Owner,
  input: { chatId: string; before?: number | undefined; after?: number | undefined; limit?: number | undefined },
): Promise<ChatMessage[]> {
  if (input.before !== undefined && input.after !== undefined) throw validationFailed([{ field: "before", message: "Give before or after, not both." }]);
  if (!(await deps.chats.find(owner, input.chatId))) throw notFound("chat");
  return deps.messages.list(owner, input.chatId, { before: input.before, after: input.after, limit: clampLimit(input.limit, 50) });
}
