import type { Chat, Message } from '#lib/api/index.ts';
import { dbFor, type OutboxEntry } from './db.ts';

/**
 * What this device remembers of one account: chats and messages already seen (readable with no
 * network) and the outbox. Every function takes the account's user id.
 */

/** Chats, most recently updated first. */
export async function cachedChats(userId: string): Promise<Chat[]> {
	const db = await dbFor(userId);
	return (await db.getAllFromIndex('chats', 'updatedAt')).reverse();
}

/**
 * Stores a page of chats from the server. `complete` (the server has no more pages) also drops
 * chats that were deleted elsewhere.
 */
export async function storeChats(userId: string, chats: Chat[], complete: boolean): Promise<void> {
	const db = await dbFor(userId);
	const tx = db.transaction(['chats', 'messages'], 'readwrite');
	if (complete) {
		const keep = new Set(chats.map((chat) => chat.id));
		for (const id of await tx.objectStore('chats').getAllKeys()) {
			if (!keep.has(id)) await forgetChatIn(tx.objectStore('chats'), tx.objectStore('messages'), id);
		}
	}
	for (const chat of chats) await tx.objectStore('chats').put(chat);
	await tx.done;
}

export async function storeChat(userId: string, chat: Chat): Promise<void> {
	await (await dbFor(userId)).put('chats', chat);
}

export async function cachedChat(userId: string, chatId: string): Promise<Chat | undefined> {
	return (await dbFor(userId)).get('chats', chatId);
}

export async function forgetChat(userId: string, chatId: string): Promise<void> {
	const db = await dbFor(userId);
	const tx = db.transaction(['chats', 'messages'], 'readwrite');
	await forgetChatIn(tx.objectStore('chats'), tx.objectStore('messages'), chatId);
	await tx.done;
}

async function forgetChatIn(
	chats: { delete(key: string): Promise<void> },
	messages: {
		index(name: 'chatSeq'): { getAllKeys(range: IDBKeyRange): Promise<string[]> };
		delete(key: string): Promise<void>;
	},
	chatId: string
) {
	await chats.delete(chatId);
	for (const key of await messages.index('chatSeq').getAllKeys(chatRange(chatId))) await messages.delete(key);
}

const chatRange = (chatId: string, from = -Infinity, to = Infinity) =>
	IDBKeyRange.bound([chatId, from], [chatId, to]);

/** The newest `limit` messages stored for a chat (optionally only those before `beforeSeq`), oldest first. */
export async function cachedMessages(
	userId: string,
	chatId: string,
	limit = 50,
	beforeSeq?: number
): Promise<Message[]> {
	const db = await dbFor(userId);
	const range = chatRange(chatId, -Infinity, beforeSeq === undefined ? Infinity : beforeSeq - 1);
	const out: Message[] = [];
	let cursor = await db.transaction('messages').store.index('chatSeq').openCursor(range, 'prev');
	while (cursor && out.length < limit) {
		out.push(cursor.value);
		cursor = await cursor.continue();
	}
	return out.reverse();
}

export async function storeMessages(userId: string, chatId: string, messages: Message[]): Promise<void> {
	if (messages.length === 0) return;
	const db = await dbFor(userId);
	const tx = db.transaction('messages', 'readwrite');
	for (const message of messages) await tx.store.put({ ...message, chatId });
	await tx.done;
}

/**
 * Where a sync of this chat starts (`after=SEQ`): after the last stored message, or before the
 * first one that was still being written when stored (it may have grown since).
 */
export async function syncPoint(userId: string, chatId: string): Promise<number | null> {
	const db = await dbFor(userId);
	const all = await db.getAllFromIndex('messages', 'chatSeq', chatRange(chatId));
	if (all.length === 0) return null;
	const unfinished = all.find((message) => message.status === 'streaming');
	if (unfinished) return unfinished.seq - 1;
	return all[all.length - 1]!.seq;
}

// ---- Outbox ---------------------------------------------------------------------------------

export async function queue(userId: string, entry: OutboxEntry): Promise<void> {
	await (await dbFor(userId)).put('outbox', entry);
}

/** The outbox in the order the messages were written. */
export async function outbox(userId: string): Promise<OutboxEntry[]> {
	return (await dbFor(userId)).getAllFromIndex('outbox', 'queuedAt');
}

export async function dequeue(userId: string, clientMessageId: string): Promise<void> {
	await (await dbFor(userId)).delete('outbox', clientMessageId);
}

export type { OutboxEntry };
