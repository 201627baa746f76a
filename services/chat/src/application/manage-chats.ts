import { notFound } from "@tessera/platform";
import { clampLimit, ensureChatAllowed, normaliseTitle, type Chat, type Owner } from "../domain/chat.ts";
import type { ChatPage } from "../domain/ports.ts";
import type { ChatDependencies } from "./dependencies.ts";
import { resolveModel } from "./models.ts";

type Deps = Pick<ChatDependencies, "chats" | "users" | "models" | "clock" | "newId">;

/** Creating, reading, renaming and deleting a user's chats; another user's chat is "not found". */
export function chatManagement(deps: Deps) {
  const owned = async (owner: Owner, id: string): Promise<Chat> => {
    const chat = await deps.chats.find(owner, id);
    if (!chat) throw notFound("chat");
    return chat;
  };
  return {
    async create(owner: Owner, input: { title?: string | undefined; model?: string | undefined }): Promise<Chat> {
      const title = normaliseTitle(input.title);
      const model = await resolveModel(deps.models, owner.tenantId, input.model);
      const [user, existing] = await Promise.all([deps.users.get(owner), deps.chats.countOwned(owner)]);
      ensureChatAllowed(existing, user.maxChats);
      const now = deps.clock.now();
      const chat: Chat = { id: deps.newId(), ...owner, title, model, createdAt: now, updatedAt: now };
      await deps.chats.create(chat);
      return chat;
    },
    list(owner: Owner, limit: number | undefined, cursor: string | undefined): Promise<ChatPage> {
      return deps.chats.list(owner, clampLimit(limit, 20), cursor || undefined);
    },
    get: owned,
    async update(owner: Owner, id: string, input: { title?: string | undefined; model?: string | undefined }): Promise<Chat> {
      await owned(owner, id);
      const changes: { title?: string; model?: string } = {};
      if (input.title !== undefined) changes.title = normaliseTitle(input.title);
      if (input.model !== undefined) changes.model = await resolveModel(deps.models, owner.tenantId, input.model);
      const chat = await deps.chats.update(owner, id, changes, deps.clock.now());
      if (!chat) throw notFound("chat");
      return chat;
    },
    async delete(owner: Owner, id: string): Promise<void> {
      if (!(await deps.chats.delete(owner, id))) throw notFound("chat");
    },
  };
}

export type ChatManagement = ReturnType<typeof chatManagement>;
