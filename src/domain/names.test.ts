import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { InvalidFieldError } from "./errors.js";
import { isDnsLabel, parseName, parseSha256 } from "./names.js";

const labelChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789".split(""));
const validLabel = fc
  .tuple(labelChar, fc.array(fc.oneof(labelChar, fc.constant("-")), { maxLength: 61 }), labelChar)
  .map(([a, mid, z]) => a + mid.join("") + z);

test("accepts every DNS label of at most 63 characters", () => {
  fc.assert(
    fc.property(validLabel, (name) => {
      assert.equal(parseName("metadata.name", name), name);
    }),
  );
});

test("refuses any name that is not a DNS label, naming the field and the value", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      fc.pre(!isDnsLabel(s));
      assert.throws(
        () => parseName("metadata.name", s),
        (e: unknown) =>
          e instanceof InvalidFieldError &&
          e.field === "metadata.name" &&
          e.message.includes("metadata.name: invalid name"),
      );
    }),
  );
  for (const bad of ["", "-a", "a-", "A", "a_b", "a.b", "x".repeat(64), "../etc", "a\0b"]) {
    assert.throws(() => parseName("metadata.name", bad), InvalidFieldError, bad);
  }
});

test("sha256 digests are 64 lowercase hex digits", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
      const hex = Buffer.from(b).toString("hex");
      assert.equal(parseSha256("sha256", hex), hex);
      assert.throws(
        () => parseSha256("sha256", hex.toUpperCase().replace(/^[0-9]/, "A")),
        /sha256: invalid sha256/,
      );
    }),
  );
  assert.throws(() => parseSha256("spec.module.sha256", "abc"), /spec\.module\.sha256/);
});
