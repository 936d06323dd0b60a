import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { KcoreError } from "../domain/errors.js";
import { parseDuration } from "./duration.js";

const SCALE = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

test("a whole number with a unit is that many units; no unit means seconds", () => {
  fc.assert(
    fc.property(fc.nat(100_000), fc.constantFrom("ms", "s", "m", "h", "d", ""), (n, unit) => {
      const scale = unit === "" ? 1000 : SCALE[unit];
      assert.equal(parseDuration("--x", `${n}${unit}`), n * scale);
    }),
  );
  assert.equal(parseDuration("--x", "365d"), 365 * 86_400_000);
  assert.equal(parseDuration("--x", "1.5h"), 5_400_000);
});

test("anything else is refused naming the flag", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), (text) => {
      fc.pre(!/^\d+(\.\d+)?(ms|s|m|h|d)?$/.test(text));
      assert.throws(
        () => parseDuration("--ttl", text),
        (e: unknown) => e instanceof KcoreError && e.message.startsWith("--ttl: invalid duration"),
      );
    }),
  );
});
