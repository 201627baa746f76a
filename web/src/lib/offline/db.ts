import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Chat, Message } from '#lib/api/index.ts';

/** A message written while it could not be sent; sent in `queuedAt` order with its `clientMessageId`. */
export interface OutboxEntry {
	clientMessageId: string;
	chatId: string;
	content: string;
	queuedAt: number;
	/** Why the server refused it (it stays until the user discards it); unset while it waits. */
	error?: string;
}

interface TesseraDb extends DBSchema {
	chats: { key: string; value: Chat; indexes: { updatedAt: string } };
	messages: { key: string; value: Message & { chatId: string }; indexes: { chatSeq: [string, number] } };
	outbox: { key: string; value: OutboxEntry; indexes: { queuedAt: number } };
}

export type Db = IDBPDatabase<TesseraDb>;

const opened = new Map<string, Promise<Db>>();

/**
 * The IndexedDB database of one signed-in account (`tessera-<userId>`): chats, messages and the
 * outbox. One database per account keeps accounts of a shared browser apart.
 */
export function dbFor(userId: string): Promise<Db> {
	let db = opened.get(userId);
	if (!db) {
		db = openDB<TesseraDb>(`tessera-${userId}`, 1, {
			upgrade(database) {
				database.createObjectStore('chats', { keyPath: 'id' }).createIndex('updatedAt', 'updatedAt');
				database
					.createObjectStore('messages', { keyPath: 'id' })
					.createIndex('chatSeq', ['chatId', 'seq']);
				database.createObjectStore('outbox', { keyPath: 'clientMessageId' }).createIndex('queuedAt', 'queuedAt');
			}
		});
		db.catch(() => opened.delete(userId));
		opened.set(userId, db);
	}
	return db;
}
