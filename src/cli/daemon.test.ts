import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { intFlag, numberFlag } from "./daemon.js";

test("number flags: any value in range, written plainly, reads back; anything else names the flag", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100_000 }), (n) => {
      assert.equal(intFlag("max-workloads", String(n), 1, 0, 100_000), n);
      assert.equal(numberFlag("cpu-allocation-ratio", String(n / 100), 1, 0, 1000), n / 100);
    }),
  );
  fc.assert(
    fc.property(fc.string(), (v) => {
      let parsed: number | undefined;
      try {
        parsed = numberFlag("cpu-allocation-ratio", v, 1, 0.1, 64);
      } catch (e) {
        assert.match(String(e), /--cpu-allocation-ratio: expected a number from 0\.1 to 64, got /);
        return;
      }
      assert.match(v, /^\d+(\.\d+)?$/);
      assert.ok(parsed >= 0.1 && parsed <= 64);
    }),
  );
  for (const bad of ["", " ", "0x10", "1e2", "2.5", "-1", "NaN", "Infinity"])
    assert.throws(
      () => intFlag("warm-pool", bad, 2, 0, 64),
      /--warm-pool: expected a whole number/,
    );
  assert.equal(intFlag("warm-pool", undefined, 2, 0, 64), 2);
  assert.equal(numberFlag("cpu-allocation-ratio", "1.5", 1, 0.1, 64), 1.5);
});
