import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { renderRecords } from "../agent/wasm/log-reader.js";
import { LogWriter, MAX_LOG_LINE_BYTES } from "./log-writer.js";

test("whatever a module writes, in whatever chunks, reads back as the same text", () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-log-"));
  try {
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "grapheme", maxLength: 50 }), { maxLength: 20 }),
        (chunks) => {
          const path = join(dir, `${n++}.log`);
          const w = new LogWriter(path, 10 * 1024 * 1024);
          for (const c of chunks) w.write("stdout", Buffer.from(c));
          w.close();
          const text = chunks.join("");
          const expected = text === "" ? "" : text.endsWith("\n") ? text : `${text}\n`;
          assert.equal(renderRecords(readFileSync(path, "utf8"), false), expected);
        },
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("records carry the stream and an RFC 3339 timestamp; long lines are split into partial records", () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-log-"));
  try {
    const path = join(dir, "0.log");
    const w = new LogWriter(path, 10 * 1024 * 1024);
    w.write("stderr", Buffer.from("oops\n"));
    w.write("stdout", Buffer.from(`${"x".repeat(MAX_LOG_LINE_BYTES + 10)}\n`));
    w.close();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stderr F oops$/);
    assert.match(lines[1] ?? "", / stdout P x+$/);
    assert.match(lines[2] ?? "", / stdout F x{10}$/);
    assert.equal(
      renderRecords(lines.join("\n"), false),
      `oops\n${"x".repeat(MAX_LOG_LINE_BYTES + 10)}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a log file past its size limit is rotated, not grown", () => {
  const dir = mkdtempSync(join(tmpdir(), "kcore-log-"));
  try {
    const path = join(dir, "0.log");
    const w = new LogWriter(path, 4096);
    for (let i = 0; i < 200; i++) w.write("stdout", Buffer.from(`line ${i}\n`));
    w.close();
    assert.ok(readFileSync(path).length <= 4096);
    assert.ok(readFileSync(`${path}.1`).length <= 4096);
    assert.match(readFileSync(path, "utf8"), /line 199$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
