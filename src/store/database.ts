import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { MIGRATIONS } from "./migrations/index.js";

export type Db = Database.Database;

/**
 * Opens the controller's SQLite file: WAL, synchronous=FULL (a commit is on disk before we answer),
 * foreign keys on, migrations applied.
 */
export function openDatabase(path: string, logger: Logger): Db {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db, logger);
  return db;
}

export function migrate(db: Db, logger: Logger): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `Database schema version ${current} is newer than this kcore (${latest}): refusing to start`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    logger.info({ version: m.version, migration: m.name }, "applied migration");
  }
}
