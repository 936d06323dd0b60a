import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pino } from "pino";
import { AuditLog, type AuditCall } from "./audit-log.js";
import { openDatabase } from "./database.js";
import { GroupCommitter } from "./group-commit.js";

const dir = mkdtempSync(join(tmpdir(), "kcore-audit-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function open(name: string): {
  log: AuditLog;
  commit: GroupCommitter;
  db: ReturnType<typeof openDatabase>;
} {
  const db = openDatabase(join(dir, name, "state.db"), pino({ level: "silent" }));
  const commit = new GroupCommitter(db);
  return { db, commit, log: new AuditLog(db, commit, () => new Date("2026-11-21T12:00:00Z")) };
}

const call = (resource: string): AuditCall => ({
  identity: "kctl",
  role: "admin",
  method: "/kcore.v1.VmService/ApplyVm",
  resource,
});
const codeOf = (e: unknown): string => (e instanceof Error ? e.name : "UNKNOWN");

test("a call's change and its audit record commit in one transaction, once however often it writes", async () => {
  const { db, commit, log } = open("one");
  db.exec("CREATE TABLE things (name TEXT)");
  await log.record(
    call("Vm/a"),
    async () => {
      await commit.run(() => db.prepare("INSERT INTO things VALUES ('a')").run());
      await Promise.all([
        commit.run(() => db.prepare("INSERT INTO things VALUES ('b')").run()),
        commit.run(() => db.prepare("INSERT INTO things VALUES ('c')").run()),
      ]);
    },
    codeOf,
  );
  const rows = log.list({ limit: 10 });
  assert.equal(rows.length, 1);
  assert.deepEqual(
    { ...rows[0], seq: 0 },
    {
      seq: 0,
      time: rows[0]?.time,
      ...call("Vm/a"),
      code: "OK",
      message: "",
    },
  );
  // A savepoint that fails writes no record; the call's failure is recorded when it ends.
  await assert.rejects(
    log.record(
      call("Vm/b"),
      async () => {
        await commit.run(() => {
          db.prepare("INSERT INTO things VALUES ('d')").run();
          throw new RangeError("refused by the store");
        });
      },
      codeOf,
    ),
  );
  const after = log.list({ limit: 10 });
  assert.deepEqual(
    after.map((r) => [r.resource, r.code, r.message]),
    [
      ["Vm/a", "OK", ""],
      ["Vm/b", "RangeError", "refused by the store"],
    ],
  );
  assert.deepEqual(db.prepare("SELECT name FROM things ORDER BY name").all(), [
    { name: "a" },
    { name: "b" },
    { name: "c" },
  ]);
  db.close();
});

test("a call that changes nothing and a refused call are recorded too", async () => {
  const { db, log } = open("two");
  await log.record(call("Vm/same"), () => Promise.resolve("unchanged"), codeOf);
  log.refused(
    { ...call("Vm/x"), identity: "kcore-viewer-ann", role: "viewer" },
    "PERMISSION_DENIED",
    "no",
  );
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    log.list({ limit: 10 }).map((r) => [r.identity, r.resource, r.code]),
    [
      ["kctl", "Vm/same", "OK"],
      ["kcore-viewer-ann", "Vm/x", "PERMISSION_DENIED"],
    ],
  );
  assert.deepEqual(
    log.list({ limit: 1 }).map((r) => r.resource),
    ["Vm/x"],
    "the newest, by limit",
  );
  assert.equal(log.list({ sinceTime: "2026-11-22T00:00:00.000Z", limit: 10 }).length, 0);
  db.close();
});

test("the audit table refuses UPDATE and DELETE", async () => {
  const { db, log } = open("three");
  await log.record(call("Vm/a"), () => Promise.resolve(), codeOf);
  assert.throws(() => db.prepare("UPDATE audit SET code = 'OK'").run(), /append-only/);
  assert.throws(() => db.prepare("DELETE FROM audit").run(), /append-only/);
  assert.equal(log.list({ limit: 10 }).length, 1);
  db.close();
});
