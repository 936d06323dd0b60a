import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { limitKey } from "./gate-admit.js";
import { maxRequestBytes, RateLimiter, StreamCounter } from "./limits.js";

test("a token bucket never allows more than its burst plus its rate over any stretch of time", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        let now = 0;
        const limiter = new RateLimiter(rate, burst, () => now);
        const allowedAt: number[] = [];
        for (const gap of gaps) {
          now += gap;
          const wait = limiter.take("a");
          if (wait === 0) allowedAt.push(now);
          else
            assert.ok(wait > 0 && wait <= Math.ceil(1000 / rate), `wait ${wait} ms at ${rate}/s`);
        }
        for (let i = 0; i < allowedAt.length; i++)
          for (let j = i; j < allowedAt.length; j++) {
            const span = (allowedAt[j] ?? 0) - (allowedAt[i] ?? 0);
            assert.ok(j - i + 1 <= burst + (span * rate) / 1000 + 1e-9, "over the limit");
          }
      },
    ),
  );
});

test("a refused caller is allowed again after the wait it was told, and other callers are not affected", () => {
  let now = 0;
  const limiter = new RateLimiter(10, 2, () => now);
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("a"), 0);
  const wait = limiter.take("a");
  assert.equal(wait, 100);
  assert.equal(limiter.take("b"), 0, "another identity has its own bucket");
  now += wait;
  assert.equal(limiter.take("a"), 0);
  now += 10_000;
  limiter.sweep();
  assert.equal(limiter.take("a"), 0, "a swept bucket starts full");
});

test("streams are counted per identity and freed when they close", () => {
  const s = new StreamCounter(2);
  assert.ok(s.open("a") && s.open("a"));
  assert.equal(s.open("a"), false);
  assert.ok(s.open("b"));
  s.close("a");
  assert.ok(s.open("a"));
});

test("uploads and applies may be larger than other requests", () => {
  assert.equal(maxRequestBytes("/kcore.v1.ModuleService/UploadModule"), 16 * 1024 * 1024);
  assert.equal(maxRequestBytes("/kcore.v1.VmService/ApplyVm"), 4 * 1024 * 1024);
  assert.equal(maxRequestBytes("/kcore.v1.NodeService/GetNode"), 1024 * 1024);
  assert.equal(maxRequestBytes("constructor"), 1024 * 1024);
});

test("callers without a certificate spend the budget of their address, not one shared budget", () => {
  const at = (peer: string) => ({ getPeer: () => peer });
  assert.equal(limitKey({ kind: "anonymous" }, at("ipv4:10.0.0.5:51234")), "anonymous@10.0.0.5");
  assert.equal(limitKey({ kind: "anonymous" }, at("ipv6:[::1]:5555")), "anonymous@[::1]");
  assert.notEqual(
    limitKey({ kind: "anonymous" }, at("ipv4:10.0.0.5:1")),
    limitKey({ kind: "anonymous" }, at("ipv4:10.0.0.6:1")),
  );
  assert.equal(limitKey({ kind: "admin", user: "kctl" }, at("ipv4:10.0.0.5:1")), "kctl");
});
