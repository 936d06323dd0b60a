import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { capMemory, encodeU32, WASM_PAGE_BYTES } from "./wasm-memory-cap.js";

/** A minimal module: one memory with the given limits, exported as "memory". */
function moduleWith(min: number, max?: number): Uint8Array {
  const limits =
    max === undefined ? [0, ...encodeU32(min)] : [1, ...encodeU32(min), ...encodeU32(max)];
  const mem = [1, ...limits];
  const exp = [1, 6, ..."memory".split("").map((c) => c.charCodeAt(0)), 2, 0];
  return new Uint8Array([
    0,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    5,
    ...encodeU32(mem.length),
    ...mem,
    7,
    ...encodeU32(exp.length),
    ...exp,
  ]);
}

test("the capped module is valid and its memory cannot grow past the limit", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 100 }),
      fc.option(fc.integer({ min: 0, max: 65536 }), { nil: undefined }),
      fc.integer({ min: 1, max: 200 }),
      (min, maxRaw, limitPages) => {
        const max = maxRaw === undefined ? undefined : Math.max(min, maxRaw);
        const r = capMemory(moduleWith(min, max), limitPages * WASM_PAGE_BYTES);
        if (min > limitPages) {
          assert.equal(r.kind, "too-small");
          return;
        }
        assert.equal(r.kind, "capped");
        assert.equal(r.maxPages, Math.min(max ?? limitPages, limitPages));
        const instance = new WebAssembly.Instance(new WebAssembly.Module(r.bytes));
        const memory = instance.exports.memory as WebAssembly.Memory;
        assert.equal(memory.buffer.byteLength, min * WASM_PAGE_BYTES);
        assert.throws(() => memory.grow(r.maxPages - min + 1), RangeError);
        memory.grow(r.maxPages - min);
      },
    ),
    { numRuns: 200 },
  );
});

test("garbage is reported as invalid, never thrown", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      const r = capMemory(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...b]), WASM_PAGE_BYTES);
      assert.ok(["capped", "too-small", "no-memory", "invalid"].includes(r.kind));
    }),
  );
});
