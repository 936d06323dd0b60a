import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { KcoreError } from "../domain/errors.js";
import { REBUILD_LIMITS, type RebuildOutcome } from "../domain/node.js";
import { RebuildOutcomeSchema } from "../gen/kcore/v1/node_pb.js";
import { rebuildFromPb, rebuildToPb } from "./convert-node.js";

const outcome = fc.record<RebuildOutcome>({
  state: fc.constantFrom("Applying", "Succeeded", "Failed"),
  generation: fc.nat(),
  systemGeneration: fc.nat(),
  configSha256: fc.stringMatching(/^[0-9a-f]{64}$/),
  phase: fc.constantFrom("test", "switch"),
  message: fc.string({ maxLength: 200 }),
  outputTail: fc.string({ maxLength: 2000 }),
  startedAt: fc.constant("2026-11-21T10:00:00.000Z"),
  finishedAt: fc.constantFrom("", "2026-11-21T10:01:00.000Z"),
});

test("a rebuild outcome reads back as the node reported it", () => {
  fc.assert(
    fc.property(outcome, (o) => {
      assert.deepEqual(rebuildFromPb("outcome", create(RebuildOutcomeSchema, rebuildToPb(o))), {
        ...o,
      });
    }),
  );
});

test("a reported rebuild outcome is refused naming the field when a value is out of bounds", () => {
  const ok = rebuildToPb({
    state: "Failed",
    generation: 1,
    systemGeneration: 0,
    configSha256: "a".repeat(64),
    phase: "test",
    message: "m",
    outputTail: "",
    startedAt: "",
    finishedAt: "",
  });
  const refused = (over: Partial<typeof ok>, field: RegExp): void => {
    assert.throws(
      () => rebuildFromPb("outcome", create(RebuildOutcomeSchema, { ...ok, ...over })),
      (e: unknown) =>
        e instanceof KcoreError && e.code === "InvalidArgument" && field.test(e.message),
    );
  };
  refused({ state: "Done" }, /outcome\.state.*"Done"/);
  refused({ phase: "build" }, /outcome\.phase.*"build"/);
  refused({ generation: -1n }, /outcome\.generation/);
  refused({ outputTail: "x".repeat(REBUILD_LIMITS.maxOutputTail + 1) }, /outcome\.outputTail/);
  refused({ message: "é".repeat(REBUILD_LIMITS.maxMessage) }, /outcome\.message/);
  assert.throws(
    () => rebuildFromPb("outcome", undefined),
    /outcome: is required|outcome.*required/,
  );
});
