/**
 * Runs tasks with the same key one after another (different keys run freely). FerretDB v1 loses
 * concurrent updates of one document, so read-modify-write of a single document is serialised here
 * within a process; each caller documents what guards it across processes.
 */
export function createKeyedSerializer() {
  const tails = new Map<string, Promise<unknown>>();
  return function serialised<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    tails.set(key, settled);
    void settled.then(() => {
      if (tails.get(key) === settled) tails.delete(key);
    });
    return next;
  };
}
