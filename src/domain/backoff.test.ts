import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { backoffDelay, DEFAULT_BACKOFF, nextStreak } from "./backoff.js";

test("crash-loop backoff is 10s, 20s, 40s, ... capped at 5 minutes", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 10, 50].map((n) => backoffDelay(DEFAULT_BACKOFF, n) / 1000);
  assert.deepEqual(delays, [10, 20, 40, 80, 160, 300, 300, 300, 300]);
});

test("backoff never decreases with more failures and never exceeds the cap", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000 }), (n) => {
      const a = backoffDelay(DEFAULT_BACKOFF, n);
      const b = backoffDelay(DEFAULT_BACKOFF, n + 1);
      assert.ok(a <= b && b <= DEFAULT_BACKOFF.maxMs && a >= DEFAULT_BACKOFF.initialMs);
    }),
  );
});

test("ten minutes of healthy running resets the streak", () => {
  assert.equal(nextStreak(DEFAULT_BACKOFF, 5, 600_000), 1);
  assert.equal(nextStreak(DEFAULT_BACKOFF, 5, 599_999), 6);
});
