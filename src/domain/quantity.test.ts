import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatCpu, formatMemory, parseCpu, parseMemory } from "./quantity.js";

test("parses memory quantities in binary and decimal units", () => {
  assert.equal(parseMemory("m", "64Mi"), 64 * 1024 * 1024);
  assert.equal(parseMemory("m", "1Gi"), 2 ** 30);
  assert.equal(parseMemory("m", "1.5Gi"), 1.5 * 2 ** 30);
  assert.equal(parseMemory("m", "128k"), 128_000);
  assert.equal(parseMemory("m", "1048576"), 1_048_576);
  assert.equal(parseMemory("m", "2M"), 2_000_000);
});

test("parses cpu quantities into millicores", () => {
  assert.equal(parseCpu("c", "500m"), 500);
  assert.equal(parseCpu("c", "2"), 2000);
  assert.equal(parseCpu("c", "0.25"), 250);
  assert.throws(() => parseCpu("c", "0.0005"), /not a whole number/);
  assert.throws(
    () => parseCpu("spec.resources.limits.cpu", "1Gi"),
    /spec\.resources\.limits\.cpu: invalid cpu quantity "1Gi"/,
  );
});

test("refuses malformed quantities naming the field", () => {
  for (const bad of ["", "64MB", "-1Mi", "1e3", "Mi", "1.5.5", " 64Mi", "0.5"]) {
    if (bad === "0.5") {
      assert.throws(() => parseMemory("spec.resources.limits.memory", bad), /not a whole number/);
      continue;
    }
    assert.throws(
      () => parseMemory("spec.resources.limits.memory", bad),
      /spec\.resources\.limits\.memory: invalid memory quantity/,
      bad,
    );
  }
});

test("formatting then parsing memory gives back the same byte count", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
      assert.equal(parseMemory("m", formatMemory(n)), n);
    }),
  );
});

test("formatting then parsing cpu gives back the same millicores", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000_000 }), (n) => {
      assert.equal(parseCpu("c", formatCpu(n)), n);
    }),
  );
});

test("parsing never throws anything but a field error, and never returns a fraction", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 24 }), (s) => {
      for (const parse of [parseMemory, parseCpu]) {
        try {
          const n = parse("f", s);
          assert.ok(Number.isSafeInteger(n) && n >= 0);
        } catch (e) {
          assert.match((e as Error).message, /^f: /);
        }
      }
    }),
  );
});
