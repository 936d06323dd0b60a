import { createHash, timingSafeEqual } from "node:crypto";
import { KcoreError } from "../domain/errors.js";
import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

interface Row {
  id: string;
  secret_sha256: string;
  expires_at: string;
  used_at: string | null;
  used_by: string | null;
}

/** Bootstrap tokens: each joins one node, once, before it expires. Only secrets' hashes are kept. */
export class JoinTokenStore {
  readonly #db: Db;
  readonly #commit: GroupCommitter;

  constructor(db: Db, commit: GroupCommitter) {
    this.#db = db;
    this.#commit = commit;
  }

  create(
    t: { id: string; secret: string; expiresAt: Date; createdBy: string },
    now: Date,
  ): Promise<void> {
    return this.#commit.run(() => {
      this.#db
        .prepare(
          "INSERT INTO join_tokens (id, secret_sha256, created_at, expires_at, created_by) VALUES (?, ?, ?, ?, ?)",
        )
        .run(
          t.id,
          sha256(t.secret).toString("hex"),
          now.toISOString(),
          t.expiresAt.toISOString(),
          t.createdBy,
        );
    });
  }

  /**
   * Uses a token for `nodeName`: refused (UNAUTHENTICATED, saying why) when unknown, wrong,
   * expired or used already. Runs inside the caller's transaction (the one that records the
   * node's certificate), so a token joins one node even when two try at once, and a token is
   * never used up without its certificate being recorded.
   */
  consumeInTransaction(id: string, secret: string, nodeName: string, now: Date): void {
    {
      const row = this.#db.prepare<[string], Row>("SELECT * FROM join_tokens WHERE id = ?").get(id);
      const refuse = (why: string): KcoreError =>
        new KcoreError("Unauthenticated", `join token ${id}: ${why}`);
      if (!row || !timingSafeEqual(sha256(secret), Buffer.from(row.secret_sha256, "hex")))
        throw refuse("unknown token or wrong secret");
      if (row.used_at !== null)
        throw refuse(
          `already used (by node '${row.used_by ?? ""}' at ${row.used_at}); create another with kctl node token create`,
        );
      if (Date.parse(row.expires_at) <= now.getTime())
        throw refuse(`expired at ${row.expires_at}; create another with kctl node token create`);
      this.#db
        .prepare("UPDATE join_tokens SET used_at = ?, used_by = ? WHERE id = ?")
        .run(now.toISOString(), nodeName, id);
    }
  }
}
