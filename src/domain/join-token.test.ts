import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { InvalidFieldError } from "./errors.js";
import { formatJoinToken, parseJoinToken, parseTokenCredential } from "./join-token.js";

const chars = (alphabet: string, n: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...Array.from(alphabet)), minLength: n, maxLength: n });

const token = fc.record({
  caSha256: chars("0123456789abcdef", 64),
  id: chars("abcdefghijklmnopqrstuvwxyz0123456789", 6),
  secret: chars("abcdefghijklmnopqrstuvwxyz0123456789", 32),
});

test("a formatted token parses back to itself", () => {
  fc.assert(
    fc.property(token, (t) => {
      const text = formatJoinToken(t);
      assert.deepEqual(parseJoinToken("--token", text), { ...t });
      assert.deepEqual(parseTokenCredential("token", text), { id: t.id, secret: t.secret });
    }),
  );
});

test("anything else is refused with an error naming the field, never a crash", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      try {
        const t = parseJoinToken("--token", text);
        assert.equal(formatJoinToken(t), text.trim());
      } catch (e) {
        assert.ok(e instanceof InvalidFieldError);
        assert.match(e.message, /^--token: /);
        assert.ok(e.message.length < 400);
      }
    }),
  );
  for (const bad of [
    "",
    "K10::a.b",
    `K10${"g".repeat(64)}::abcdef.${"a".repeat(32)}`,
    "x".repeat(10_000),
  ])
    assert.throws(() => parseJoinToken("--token", bad), InvalidFieldError);
  assert.throws(() => parseTokenCredential("token", `abcdef.${"A".repeat(32)}`), InvalidFieldError);
});
