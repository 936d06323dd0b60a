/**
 * Every conversion from a wire message to a domain type, fed random messages built from the
 * protobuf descriptors (random scalars, unknown enum numbers, long and hostile strings, nested
 * messages, lists and maps): each ends in a value or a clean InvalidArgument naming a field,
 * never another error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  create,
  fromBinary,
  ScalarType,
  toBinary,
  type DescField,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import fc from "fast-check";
import { KcoreError } from "../domain/errors.js";
import { RebuildOutcomeSchema, ResourceListSchema } from "../gen/kcore/v1/node_pb.js";
import { SshKeySchema, VmSchema, VmStatusSchema } from "../gen/kcore/v1/vm_pb.js";
import { WasmWorkloadSchema, WasmWorkloadStatusSchema } from "../gen/kcore/v1/wasm_workload_pb.js";
import { rebuildFromPb, resourcesFromPb } from "./convert-node.js";
import { sshKeyFromPb, vmFromPb, vmStatusFromPb } from "./convert-vm.js";
import { statusFromPb, workloadFromPb } from "./convert-wasm-workload.js";

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "a",
      "web",
      "..",
      "/",
      "/etc/passwd",
      "../../x",
      "a\0b",
      "${builtins.trace 1 1}",
      "Running",
      "Stopped",
      "64Mi",
      "https://example.com/m.wasm",
      "0".repeat(64),
    ),
  },
  { weight: 1, arbitrary: fc.nat({ max: 70_000 }).map((n) => "x".repeat(n)) },
);

function scalar(t: ScalarType): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.STRING:
      return text;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.nat({ max: 2 ** 32 - 1 });
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  }
}

/** Any enum number, known or not. */
const enumNumber = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: -5, max: 1000 }));

function fieldValue(f: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (f.fieldKind) {
    case "scalar":
      return scalar(f.scalar);
    case "enum":
      return enumNumber;
    case "message":
      return message(f.message, depth + 1);
    case "list":
      switch (f.listKind) {
        case "scalar":
          return fc.array(scalar(f.scalar), { maxLength: 5 });
        case "enum":
          return fc.array(enumNumber, { maxLength: 5 });
        case "message":
          return fc.array(message(f.message, depth + 1), { maxLength: depth > 2 ? 0 : 3 });
      }
      break;
    case "map": {
      const value =
        f.mapKind === "message"
          ? message(f.message, depth + 1)
          : f.mapKind === "enum"
            ? enumNumber
            : scalar(f.scalar);
      return fc.dictionary(
        text.filter((k) => k.length < 300),
        value,
        { maxKeys: 4 },
      );
    }
  }
}

/** A random message of `schema` as a plain init object (oneofs pick one case or none). */
function message(schema: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  if (depth > 4) return fc.constant({});
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of schema.fields)
    if (f.oneof === undefined)
      parts[f.localName] = fc.option(fieldValue(f, depth), { nil: undefined });
  for (const o of schema.oneofs)
    parts[o.localName] = fc.option(
      fc.oneof(
        ...o.fields.map((f) => fieldValue(f, depth).map((value) => ({ case: f.localName, value }))),
      ),
      { nil: undefined },
    );
  return fc.record(parts, { requiredKeys: [] });
}

/** Random messages as a server would decode them from the wire. */
function wire<D extends DescMessage>(schema: D): fc.Arbitrary<MessageShape<D>> {
  return message(schema).map((init) =>
    fromBinary(schema, toBinary(schema, create(schema, init as MessageInitShape<D>))),
  );
}

function onlyInvalidArgument(convert: () => unknown): void {
  try {
    convert();
  } catch (e) {
    assert.ok(e instanceof KcoreError, `not a KcoreError: ${String(e)}`);
    assert.equal(e.code, "InvalidArgument", e.message);
    assert.ok(e.message.length > 0 && e.message.length < 2000, "a short message naming the field");
  }
}

const runs = { numRuns: 300 };

test("WasmWorkload from the wire: a workload or INVALID_ARGUMENT", () => {
  fc.assert(
    fc.property(wire(WasmWorkloadSchema), (m) => {
      onlyInvalidArgument(() => workloadFromPb(m));
    }),
    runs,
  );
});

test("VM from the wire: a VM or INVALID_ARGUMENT", () => {
  fc.assert(
    fc.property(wire(VmSchema), (m) => {
      onlyInvalidArgument(() => vmFromPb(m));
    }),
    runs,
  );
});

test("SshKey from the wire: a key or INVALID_ARGUMENT", () => {
  fc.assert(
    fc.property(wire(SshKeySchema), (m) => {
      onlyInvalidArgument(() => sshKeyFromPb(m));
    }),
    runs,
  );
});

test("statuses and rebuild outcomes reported by nodes: a value or INVALID_ARGUMENT", () => {
  fc.assert(
    fc.property(
      wire(WasmWorkloadStatusSchema),
      wire(VmStatusSchema),
      wire(RebuildOutcomeSchema),
      (w, v, r) => {
        onlyInvalidArgument(() => statusFromPb("status", w));
        onlyInvalidArgument(() => vmStatusFromPb("status", v));
        onlyInvalidArgument(() => rebuildFromPb("outcome", r));
      },
    ),
    runs,
  );
  fc.assert(
    fc.property(wire(ResourceListSchema), (r) => {
      const got = resourcesFromPb(r);
      for (const n of Object.values(got)) assert.ok(Number.isSafeInteger(n) && n >= 0);
    }),
    runs,
  );
});
