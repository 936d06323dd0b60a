import assert from "node:assert/strict";
import { test } from "node:test";
import { KcoreError } from "../domain/errors.js";
import { nodeCertTtl } from "./run-controller.js";

test("--node-cert-ttl: a year by default, days accepted, too short or too long refused by name", () => {
  assert.equal(nodeCertTtl(undefined), 365 * 86_400_000);
  assert.equal(nodeCertTtl("90d"), 90 * 86_400_000);
  assert.equal(nodeCertTtl("40s"), 40_000);
  for (const bad of ["1s", "0", "4000d", "ten"])
    assert.throws(
      () => nodeCertTtl(bad),
      (e: unknown) => e instanceof KcoreError && e.message.startsWith("--node-cert-ttl"),
      bad,
    );
});
