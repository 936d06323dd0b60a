import { auditInTransaction, currentAuditScope } from "./audit-log.js";
import type { Db } from "./database.js";

interface Pending<T> {
  readonly fn: () => T;
  /** The audited call that asked for this change: its record commits with it. */
  readonly audit: ReturnType<typeof currentAuditScope>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: mutations that arrive in the same event-loop turn run in one SQLite transaction,
 * each in its own savepoint (one failing leaves the others intact), and share one fsync. Every
 * caller's promise settles only after the commit is durable.
 */
export class GroupCommitter {
  readonly #db: Db;
  #queue: Pending<unknown>[] = [];
  #scheduled = false;
  #afterCommit: (() => void)[] = [];

  constructor(db: Db) {
    this.#db = db;
  }

  /** Runs `fn` inside the next group transaction. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve, reject, audit: currentAuditScope() } as Pending<unknown>);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#flush();
        });
      }
    });
  }

  /** Registers work (such as watch events) to run once the current group has committed. */
  afterCommit(fn: () => void): void {
    this.#afterCommit.push(fn);
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    const hooks: (() => void)[] = [];
    /** Audited calls whose record is in this transaction already (a call may write twice). */
    const audited = new Set<NonNullable<Pending<unknown>["audit"]>>();
    try {
      this.#db.transaction(() => {
        for (const p of batch) {
          const before = this.#afterCommit.length;
          try {
            const audit =
              p.audit && !p.audit.written && !audited.has(p.audit) ? p.audit : undefined;
            const value = this.#db.transaction(() => {
              const v = p.fn();
              if (audit) auditInTransaction(this.#db, audit, new Date());
              return v;
            })();
            if (audit) audited.add(audit);
            results.push({ ok: true, value });
          } catch (error) {
            this.#afterCommit.length = before; // a rolled-back savepoint emits nothing
            results.push({ ok: false, error });
          }
        }
        hooks.push(...this.#afterCommit);
        this.#afterCommit = [];
      })();
    } catch (error) {
      this.#afterCommit = [];
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i];
      if (r?.ok === true && p.audit) p.audit.written = true;
      if (r === undefined) p.reject(new Error("group commit lost a result"));
      else if (r.ok) p.resolve(r.value);
      else p.reject(r.error);
    });
    for (const h of hooks) h();
  }
}
