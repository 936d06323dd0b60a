import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { readConsoleLog, trimConsoleLog } from "./console.js";

async function collect(gen: AsyncGenerator<Buffer>): Promise<string> {
  let s = "";
  for await (const b of gen) s += b.toString();
  return s;
}

test("console log: --tail counts lines across the rotated file and the current one", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.stringMatching(/^[a-z ]{0,8}$/), { maxLength: 12 }),
      fc.nat(12),
      fc.integer({ min: 0, max: 15 }),
      async (lines, split, tail) => {
        const dir = mkdtempSync(join(tmpdir(), "kcore-console-"));
        try {
          const log = join(dir, "console.log");
          const text = lines.map((l) => `${l}\n`);
          writeFileSync(`${log}.1`, text.slice(0, split).join(""));
          writeFileSync(log, text.slice(split).join(""));
          const got = await collect(
            readConsoleLog(log, {
              follow: false,
              tailLines: tail,
              signal: AbortSignal.timeout(5000),
            }),
          );
          assert.equal(got, text.slice(Math.max(0, text.length - tail)).join(""));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 50 },
  );
});

test("console log: following sees new output, starts over after a trim, and ends when the VM's log directory goes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-console-"));
  const log = join(dir, "console.log");
  writeFileSync(log, "boot\n");
  const seen: string[] = [];
  const done = (async () => {
    for await (const b of readConsoleLog(log, {
      follow: true,
      signal: AbortSignal.timeout(10_000),
      pollMs: 20,
    }))
      seen.push(b.toString());
  })();
  const until = async (text: string): Promise<void> => {
    for (let i = 0; i < 200 && !seen.join("").includes(text); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(seen.join("").includes(text), `saw ${JSON.stringify(seen.join(""))}`);
  };
  await until("boot\n");
  appendFileSync(log, "login: ");
  await until("login: ");
  // The hypervisor's own log grows past the limit: it is copied aside and emptied in place.
  appendFileSync(log, "x".repeat(100));
  trimConsoleLog(log, 50);
  truncateSync(log, 0);
  appendFileSync(log, "after trim\n");
  await until("after trim\n");
  rmSync(dir, { recursive: true, force: true });
  await done; // ends by itself, not by the timeout
  assert.ok(seen.join("").endsWith("after trim\n"));
});
