import type { Db } from "./database.js";
import type { GroupCommitter } from "./group-commit.js";

/** One certificate in the registry: every certificate the controller signed or a node presented. */
export interface CertRecord {
  readonly serial: string;
  readonly commonName: string;
  readonly issuerSerial: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  /** Empty while valid. */
  readonly revokedAt: string;
}

interface Row {
  serial: string;
  common_name: string;
  issuer_serial: string;
  not_after: string;
  issued_at: string;
  revoked_at: string | null;
}

function fromRow(r: Row): CertRecord {
  return {
    serial: r.serial,
    commonName: r.common_name,
    issuerSerial: r.issuer_serial,
    notAfter: r.not_after,
    issuedAt: r.issued_at,
    revokedAt: r.revoked_at ?? "",
  };
}

/**
 * The certificate registry. Revocation is a row's `revoked_at`; the controller's CRLs and its
 * list of refused serials are built from it, so a revocation survives restarts.
 */
export class CertStore {
  readonly #db: Db;
  readonly #commit: GroupCommitter;

  constructor(db: Db, commit: GroupCommitter) {
    this.#db = db;
    this.#commit = commit;
  }

  /**
   * Adds a certificate (a known serial is left as it is: its revocation stands). `also` runs in
   * the same transaction first; if it throws, nothing is recorded.
   */
  record(
    c: Pick<CertRecord, "serial" | "commonName" | "issuerSerial" | "notAfter">,
    now: Date,
    also?: () => void,
  ): Promise<void> {
    return this.#commit.run(() => {
      also?.();
      this.#db
        .prepare(
          "INSERT OR IGNORE INTO certificates (serial, common_name, issuer_serial, not_after, issued_at) VALUES (?, ?, ?, ?, ?)",
        )
        .run(c.serial, c.commonName, c.issuerSerial, c.notAfter, now.toISOString());
    });
  }

  /**
   * Revokes the given serials (unknown ones are added as revoked: a certificate signed outside
   * the registry can be revoked too) or every certificate of `commonName`. Returns the serials
   * revoked now.
   */
  revoke(target: { serial: string } | { commonName: string }, now: Date): Promise<string[]> {
    const at = now.toISOString();
    return this.#commit.run(() => {
      if ("serial" in target) {
        const row = this.#db
          .prepare<[string], Row>("SELECT * FROM certificates WHERE serial = ?")
          .get(target.serial);
        if (row?.revoked_at) return [];
        this.#db
          .prepare(
            `INSERT INTO certificates (serial, common_name, issuer_serial, not_after, issued_at, revoked_at)
             VALUES (?, '', '', '', ?, ?)
             ON CONFLICT (serial) DO UPDATE SET revoked_at = excluded.revoked_at`,
          )
          .run(target.serial, at, at);
        return [target.serial];
      }
      const serials = this.#db
        .prepare<[string], { serial: string }>(
          "SELECT serial FROM certificates WHERE common_name = ? AND revoked_at IS NULL",
        )
        .all(target.commonName)
        .map((r) => r.serial);
      this.#db
        .prepare(
          "UPDATE certificates SET revoked_at = ? WHERE common_name = ? AND revoked_at IS NULL",
        )
        .run(at, target.commonName);
      return serials;
    });
  }

  /** Every revoked serial and when. */
  revoked(): { serial: string; revokedAt: Date }[] {
    return this.#db
      .prepare<[], { serial: string; revoked_at: string }>(
        "SELECT serial, revoked_at FROM certificates WHERE revoked_at IS NOT NULL ORDER BY serial",
      )
      .all()
      .map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at) }));
  }

  list(): CertRecord[] {
    return this.#db
      .prepare<[], Row>("SELECT * FROM certificates ORDER BY issued_at, serial")
      .all()
      .map(fromRow);
  }
}
