import { AsyncLocalStorage } from "node:async_hooks";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";

/** One audited call. */
export interface AuditEntry {
  readonly seq: number;
  /** RFC 3339, when the call ended (or its change was committed). */
  readonly time: string;
  /** The caller's certificate common name. */
  readonly identity: string;
  readonly role: string;
  /** The full gRPC method path. */
  readonly method: string;
  /** `kind/name` the call was about, when the request names one. */
  readonly resource: string;
  /** `OK`, or the error code the call ended with. */
  readonly code: string;
  readonly message: string;
}

export type AuditCall = Pick<AuditEntry, "identity" | "role" | "method" | "resource">;

/** A call being audited: its row is written with its first change, or when it ends. */
interface Scope {
  readonly call: AuditCall;
  written: boolean;
  /** Told how long writing the record took (metrics). */
  readonly observe?: ((seconds: number) => void) | undefined;
}

const scope = new AsyncLocalStorage<Scope>();

/** The audited call the current code runs for, captured by the group committer. */
export function currentAuditScope(): Scope | undefined {
  return scope.getStore();
}

const MAX_MESSAGE = 1024;

function insert(db: Db, call: AuditCall, time: string, code: string, message: string): void {
  db.prepare(
    "INSERT INTO audit (time, identity, role, method, resource, code, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
  ).run(
    time,
    call.identity,
    call.role,
    call.method,
    call.resource,
    code,
    message.slice(0, MAX_MESSAGE),
  );
}

/** Writes a scope's row inside the transaction that commits its call's change. */
export function auditInTransaction(db: Db, s: Scope, now: Date): void {
  const t = process.hrtime.bigint();
  insert(db, s.call, now.toISOString(), "OK", "");
  s.observe?.(Number(process.hrtime.bigint() - t) / 1e9);
}

/**
 * The audit log: every mutating call, in an append-only table (triggers refuse UPDATE and
 * DELETE; no API writes it). A call that changes state has its row committed in the same
 * transaction as the change, so no change is durable without its record; a call that changes
 * nothing (refused, invalid, unchanged) is recorded when it ends.
 */
export class AuditLog {
  readonly #db: Db;
  readonly #commit: GroupCommitter;
  readonly #now: () => Date;

  constructor(db: Db, commit: GroupCommitter, now: () => Date) {
    this.#db = db;
    this.#commit = commit;
    this.#now = now;
  }

  /** Runs `fn` as the audited call `call`; records how it ended unless its change did already. */
  async record<T>(
    call: AuditCall,
    fn: () => Promise<T>,
    codeOf: (e: unknown) => string,
  ): Promise<T> {
    const s: Scope = { call, written: false, observe: this.observe };
    try {
      const v = await scope.run(s, fn);
      if (!s.written) await this.#timed(this.#append(s, "OK", ""));
      return v;
    } catch (e) {
      if (!s.written)
        await this.#timed(this.#append(s, codeOf(e), e instanceof Error ? e.message : String(e)));
      throw e;
    }
  }

  /** Told how long each record took to write (metrics); the call's own work is not counted. */
  observe: ((seconds: number) => void) | undefined = undefined;

  async #timed(p: Promise<void>): Promise<void> {
    const t = process.hrtime.bigint();
    await p;
    this.observe?.(Number(process.hrtime.bigint() - t) / 1e9);
  }

  /** Records a call refused before it ran (no identity, or not allowed). */
  refused(call: AuditCall, code: string, message: string): void {
    void this.#append({ call, written: false }, code, message).catch(() => undefined);
  }

  #append(s: Scope, code: string, message: string): Promise<void> {
    return this.#commit.run(() => {
      insert(this.#db, s.call, this.#now().toISOString(), code, message);
      s.written = true;
    });
  }

  /** The newest `limit` entries at or after `sinceTime` (all when absent), oldest first. */
  list(opts: { sinceTime?: string; limit: number }): AuditEntry[] {
    return this.#db
      .prepare<[string, number], AuditEntry>(
        "SELECT seq, time, identity, role, method, resource, code, message FROM audit WHERE time >= ? ORDER BY seq DESC LIMIT ?",
      )
      .all(opts.sinceTime ?? "", opts.limit)
      .reverse();
  }
}
