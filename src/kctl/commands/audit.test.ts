import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseSince } from "./audit.js";

const NOW = Date.parse("2026-11-21T12:00:00.000Z");

test("--since takes a duration back from now or an RFC 3339 time, and nothing else", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 100_000 }),
      fc.constantFrom(["s", 1000], ["m", 60_000], ["h", 3_600_000]),
      (n, [unit, ms]) => {
        assert.equal(parseSince(`${n}${unit}`, NOW), new Date(NOW - n * ms).toISOString());
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.date({ min: new Date("2000-01-01"), max: new Date("2099-01-01"), noInvalidDate: true }),
      (d) => {
        assert.equal(parseSince(d.toISOString(), NOW), d.toISOString());
      },
    ),
  );
  for (const bad of ["", "yesterday", "1 h", "-5m", "2026-13-45T00:00:00Z", "0x10s"])
    assert.throws(() => parseSince(bad, NOW), /--since/, bad);
});
