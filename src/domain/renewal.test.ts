import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { renewalCheckInterval, renewalDue } from "./renewal.js";

const DAY = 86_400_000;

test("renewal is due once the time left is at most the threshold, as the clock moves forward", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e12 }),
      fc.integer({ min: 1000, max: 400 * DAY }),
      fc.option(fc.integer({ min: 0, max: 400 * DAY }), { nil: undefined }),
      fc.integer({ min: 0, max: 800 * DAY }),
      (notBefore, lifetime, renewBefore, elapsed) => {
        const cert = { notBefore, notAfter: notBefore + lifetime };
        const now = notBefore + elapsed;
        const threshold =
          renewBefore !== undefined && renewBefore < lifetime ? renewBefore : lifetime / 3;
        assert.equal(renewalDue(cert, now, renewBefore), cert.notAfter - now <= threshold);
        // Monotone: once due, it stays due as time goes on.
        if (renewalDue(cert, now, renewBefore))
          assert.ok(renewalDue(cert, now + 1000, renewBefore));
      },
    ),
  );
});

test("a one-year certificate is renewed with about four months left by default, not before", () => {
  const cert = { notBefore: 0, notAfter: 365 * DAY };
  assert.equal(renewalDue(cert, 200 * DAY), false);
  assert.equal(renewalDue(cert, 250 * DAY), true);
  assert.equal(renewalDue(cert, 300 * DAY, 30 * DAY), false);
  assert.equal(renewalDue(cert, 340 * DAY, 30 * DAY), true);
  // A threshold as long as the lifetime would renew every new certificate at once: a third is used.
  assert.equal(renewalDue(cert, 1 * DAY, 400 * DAY), false);
  assert.equal(renewalCheckInterval(cert), 3_600_000);
  assert.equal(renewalCheckInterval({ notBefore: 0, notAfter: 40_000 }), 1000);
});
