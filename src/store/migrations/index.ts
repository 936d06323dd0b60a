/**
 * Numbered schema migrations, applied in order inside one transaction each; `PRAGMA user_version`
 * records the last one applied. Never edit a released migration: add the next number.
 */
export const MIGRATIONS: readonly {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
      INSERT INTO counters (name, value) VALUES ('resource_version', 0);
      CREATE TABLE wasm_workloads (
        name TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        generation INTEGER NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        labels TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        node TEXT NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX wasm_workloads_node ON wasm_workloads (node);
      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        labels TEXT NOT NULL,
        status TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: "vms and ssh keys",
    sql: `
      CREATE TABLE vms (
        name TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        generation INTEGER NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        labels TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        node TEXT NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX vms_node ON vms (node);
      CREATE TABLE ssh_keys (
        name TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        generation INTEGER NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        labels TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        node TEXT NOT NULL DEFAULT ''
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: "audit log, append-only",
    sql: `
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        identity TEXT NOT NULL,
        role TEXT NOT NULL,
        method TEXT NOT NULL,
        resource TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_time ON audit (time);
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 4,
    name: "certificate registry and join tokens",
    sql: `
      CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        common_name TEXT NOT NULL,
        issuer_serial TEXT NOT NULL,
        not_after TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        revoked_at TEXT
      ) STRICT;
      CREATE INDEX certificates_common_name ON certificates (common_name);
      CREATE TABLE join_tokens (
        id TEXT PRIMARY KEY,
        secret_sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        used_at TEXT,
        used_by TEXT
      ) STRICT;
    `,
  },
];
