/** Answers being streamed by this process, so a stop that lands here takes effect at once. */
export class ActiveStreams {
  private readonly controllers = new Map<string, AbortController>();

  add(ids: string[], controller: AbortController): () => void {
    for (const id of ids) this.controllers.set(id, controller);
    return () => {
      for (const id of ids) if (this.controllers.get(id) === controller) this.controllers.delete(id);
    };
  }

  stop(id: string): void {
    this.controllers.get(id)?.abort("stopped");
  }

  get size(): number {
    return new Set(this.controllers.values()).size;
  }
}
