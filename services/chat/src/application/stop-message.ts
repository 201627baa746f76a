import { notFound } from "@tessera/platform";
import type { Owner } from "../domain/chat.ts";
import type { ChatDependencies } from "./dependencies.ts";

/**
 * Asks an answer to stop. The flag lives on the message document, so the process streaming the
 * answer sees it whichever replica took this call; stopping a finished answer changes nothing.
 */
export async function stopMessage(
  deps: Pick<ChatDependencies, "chats" | "messages">,
  owner: Owner,
  chatId: string,
  messageId: string,
  local: (messageId: string) => void,
): Promise<void> {
  if (!(await deps.chats.find(owner, chatId))) throw notFound("chat");
  if (!(await deps.messages.requestStop(owner, chatId, messageId))) throw notFound("message");
  // When this process is the one streaming it, stop at once rather than at the next checkpoint.
  local(messageId);
}
