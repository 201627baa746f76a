import { api, isApiError, type ChatStreamEvent, type Message } from '#lib/api/index.ts';
import { network } from '#lib/stores/network.svelte.ts';
import { quota } from '#lib/stores/quota.svelte.ts';
import { dequeue, outbox as storedOutbox, queue, storeMessages, type OutboxEntry } from './store.ts';

export type OutboxListener = (chatId: string, entry: OutboxEntry, event: ChatStreamEvent) => void;
export type RefusalListener = (chatId: string, entry: OutboxEntry, error: unknown) => void;

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

const newId = () =>
	typeof crypto.randomUUID === 'function'
		? crypto.randomUUID()
		: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

/**
 * Every message is sent through the outbox: it is stored in IndexedDB first, with the
 * `clientMessageId` it keeps for ever, then sent, one at a time in the order written. A message
 * that could not be sent (no network, the app closed) stays and is sent again with the same id
 * when the connection returns, and the server answers a repeated id with the stored exchange: so
 * each message is delivered exactly once, across restarts.
 */
class OutboxStore {
	entries = $state<OutboxEntry[]>([]);
	#userId: string | null = null;
	#flushing: Promise<void> | null = null;
	#listeners = new Set<OutboxListener>();
	#refusals = new Set<RefusalListener>();
	#retry: ReturnType<typeof setTimeout> | undefined;
	#retryMs = RETRY_MIN_MS;

	/** Opens the active account's outbox and sends what is waiting. */
	async open(userId: string): Promise<void> {
		this.#userId = userId;
		this.entries = await storedOutbox(userId);
		void this.flush();
	}

	close(): void {
		clearTimeout(this.#retry);
		this.#userId = null;
		this.entries = [];
	}

	/** Waiting messages of one chat, oldest first. */
	forChat(chatId: string): OutboxEntry[] {
		return this.entries.filter((entry) => entry.chatId === chatId);
	}

	/** Stream events of messages being sent (to show the answer as it arrives). */
	listen(fn: OutboxListener, onRefused?: RefusalListener): () => void {
		this.#listeners.add(fn);
		if (onRefused) this.#refusals.add(onRefused);
		return () => {
			this.#listeners.delete(fn);
			if (onRefused) this.#refusals.delete(onRefused);
		};
	}

	async add(chatId: string, content: string): Promise<OutboxEntry> {
		const userId = this.#require();
		const entry: OutboxEntry = { clientMessageId: newId(), chatId, content, queuedAt: Date.now() };
		await queue(userId, entry);
		this.entries = [...this.entries, entry];
		void this.flush();
		return entry;
	}

	/** Drops a message the server refused (or that the user no longer wants to send). */
	async discard(clientMessageId: string): Promise<void> {
		await dequeue(this.#require(), clientMessageId);
		this.entries = this.entries.filter((entry) => entry.clientMessageId !== clientMessageId);
	}

	/** The connection is back: send now, and retry quickly again if it is not quite back. */
	reconnected(): Promise<void> {
		this.#retryMs = RETRY_MIN_MS;
		return this.flush();
	}

	/** Sends what is waiting, in order; stops at the first message that cannot go yet. */
	flush(): Promise<void> {
		if (!this.#flushing) {
			this.#flushing = this.#withLock(() => this.#sendAll()).finally(() => (this.#flushing = null));
		}
		return this.#flushing;
	}

	async #sendAll(): Promise<void> {
		const userId = this.#userId;
		if (!userId) return;
		for (const entry of await storedOutbox(userId)) {
			if (entry.error || userId !== this.#userId) continue;
			const stored: Message[] = [];
			try {
				await api.sendMessage(entry.chatId, { content: entry.content, clientMessageId: entry.clientMessageId }, (event) => {
					if (event.event === 'message') stored.push(event.data);
					if (event.event === 'done' && event.data.message) stored.push(event.data.message);
					for (const fn of this.#listeners) fn(entry.chatId, entry, event);
				});
			} catch (err) {
				// no answer, or the stream broke off: it goes again, with the same id, when the connection is back
				if (!isApiError(err) || err.isNetworkError) {
					network.unreachable();
					this.#retryLater();
					return;
				}
				if (isApiError(err) && err.status === 429) {
					// over quota: it waits (visible) until the allowance resets
					for (const fn of this.#refusals) fn(entry.chatId, entry, err);
					void quota.refresh();
					return;
				}
				// refused for good (silenced, chat deleted, invalid): kept with the reason until discarded
				entry.error = isApiError(err) ? err.summary || String(err.status) : String(err);
				await queue(userId, entry);
				this.entries = this.entries.map((e) => (e.clientMessageId === entry.clientMessageId ? entry : e));
				for (const fn of this.#refusals) fn(entry.chatId, entry, err);
				continue;
			}
			network.reachable();
			this.#retryMs = RETRY_MIN_MS;
			await storeMessages(userId, entry.chatId, stored);
			await dequeue(userId, entry.clientMessageId);
			this.entries = this.entries.filter((e) => e.clientMessageId !== entry.clientMessageId);
			quota.afterMessage();
		}
	}

	/**
	 * Tries again later (backing off to 30 s): the browser's "online" event may come before the
	 * server is reachable, and may not come at all on a flaky connection.
	 */
	#retryLater(): void {
		clearTimeout(this.#retry);
		this.#retry = setTimeout(() => void this.flush(), this.#retryMs);
		this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
	}

	/** One sender per account across tabs (the server would deduplicate anyway). */
	async #withLock(fn: () => Promise<void>): Promise<void> {
		const userId = this.#userId;
		if (userId && typeof navigator !== 'undefined' && navigator.locks) {
			await navigator.locks.request(`tessera-outbox-${userId}`, fn);
		} else {
			await fn();
		}
	}

	#require(): string {
		if (!this.#userId) throw new Error('no account is open');
		return this.#userId;
	}
}

export const outbox = new OutboxStore();
