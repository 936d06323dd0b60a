import assert from "node:assert/strict";
import { test } from "node:test";
import type { SafeName } from "./names.js";
import type { Node } from "./node.js";
import { schedule } from "./scheduler.js";
import { parseVmSpec, vmDemand } from "./vm.js";
import { parseWasmWorkloadSpec, wasmDemand } from "./wasm-workload.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");
function node(
  name: string,
  labels: Record<string, string> = {},
  over: Partial<Node["status"]> = {},
): Node {
  return {
    metadata: {
      name: name as SafeName,
      labels,
      uid: name,
      generation: 1,
      resourceVersion: 1,
      creationTimestamp: "",
    },
    status: {
      ready: true,
      approval: "Approved",
      schedulable: true,
      capacity: { cpuMillis: 2000, memoryBytes: 2 ** 30, workloads: 10 },
      allocatable: { cpuMillis: 2000, memoryBytes: 2 ** 30, workloads: 10 },
      usage: { cpuMillis: 0, memoryBytes: 0, workloads: 0 },
      lastHeartbeat: new Date(NOW - 1000).toISOString(),
      hypervisor: "",
      realizer: "direct",
      version: "",
      taints: [],
      address: "",
      ...over,
    },
  };
}
const spec = (s: object = {}) =>
  wasmDemand(parseWasmWorkloadSpec("spec", { module: { sha256: "a".repeat(64) }, ...s }));

test("honours nodeSelector", () => {
  const p = schedule(
    spec({ nodeSelector: { disk: "ssd" } }),
    [node("a"), node("b", { disk: "ssd" })],
    [],
    NOW,
  );
  assert.deepEqual(p, { kind: "placed", node: "b" });
});

test("skips nodes that are not ready, not approved, cordoned or full, and says why", () => {
  const nodes = [
    node("a", {}, { lastHeartbeat: new Date(NOW - 60_000).toISOString() }),
    node("b", {}, { approval: "Pending" }),
    node("c", {}, { schedulable: false }),
    node("d", {}, { allocatable: { cpuMillis: 2000, memoryBytes: 2 ** 20, workloads: 10 } }),
  ];
  const p = schedule(spec({ resources: { limits: { memory: "64Mi" } } }), nodes, [], NOW);
  assert.equal(p.kind, "unschedulable");
  assert.match(p.message, /a: not ready; b: not approved; c: cordoned; d: not enough memory/);
});

test("spreads workloads to the least loaded node and counts placed memory", () => {
  const placed = [{ node: "a", memoryBytes: 0, cpuMillis: 0 }];
  assert.deepEqual(schedule(spec(), [node("a"), node("b")], placed, NOW), {
    kind: "placed",
    node: "b",
  });
  const full = [{ node: "a", memoryBytes: 2 ** 30, cpuMillis: 0 }];
  assert.equal(
    schedule(spec({ resources: { limits: { memory: "1Mi" } } }), [node("a")], full, NOW).kind,
    "unschedulable",
  );
});

test("accounts for the cpus and memory of every placed VM, not only the node's size", () => {
  const vm = vmDemand(
    parseVmSpec("spec", { cpus: 2, memory: "512Mi", boot: { kernel: "/boot/vmlinuz" } }),
  );
  const nodes = [node("a"), node("b")];
  assert.deepEqual(schedule(vm, nodes, [], NOW), { kind: "placed", node: "a" });
  const onA = [{ node: "a", ...vm }];
  assert.deepEqual(schedule(vm, nodes, onA, NOW), { kind: "placed", node: "b" });
  const both = [...onA, { node: "b", ...vm }];
  const p = schedule(vm, nodes, both, NOW);
  assert.deepEqual(p, {
    kind: "unschedulable",
    message: "0/2 nodes available: a: not enough cpu; b: not enough cpu",
  });
});
