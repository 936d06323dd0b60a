import type { Logger } from "pino";

/**
 * Status reports to the controller, batched: every change queued in one event-loop turn goes
 * in one call, the newest status per uid wins, and a failed call is retried (keeping anything
 * newer queued meanwhile) until it succeeds or the batcher is closed.
 */
export class StatusBatcher<T> {
  readonly #send: (items: T[]) => Promise<unknown>;
  readonly #log: Logger;
  readonly #dirty = new Map<string, T>();
  #scheduled = false;
  #closed = false;

  constructor(send: (items: T[]) => Promise<unknown>, log: Logger) {
    this.#send = send;
    this.#log = log;
  }

  queue(uid: string, item: T): void {
    this.#dirty.set(uid, item);
    this.#schedule(0);
  }

  /** Drops a pending report (the thing it was about is gone). */
  forget(uid: string): void {
    this.#dirty.delete(uid);
  }

  close(): void {
    this.#closed = true;
  }

  /** Read through a method so that the check after an await is not narrowed away. */
  #isClosed(): boolean {
    return this.#closed;
  }

  #schedule(ms: number): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    const run = (): void => {
      void this.#flush();
    };
    if (ms === 0) setImmediate(run);
    else setTimeout(run, ms);
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    if (this.#dirty.size === 0 || this.#closed) return;
    const batch = [...this.#dirty];
    this.#dirty.clear();
    try {
      await this.#send(batch.map(([, item]) => item));
    } catch (e) {
      if (this.#isClosed()) return;
      this.#log.debug(
        { err: e instanceof Error ? e.message : String(e) },
        "status report failed; will retry",
      );
      for (const [uid, item] of batch) if (!this.#dirty.has(uid)) this.#dirty.set(uid, item);
      this.#schedule(1000);
    }
  }
}
