import { isReady, type Node } from "./node.js";

/** A workload already placed on a node, for accounting. */
export interface Placed {
  readonly node: string;
  readonly memoryBytes: number;
  readonly cpuMillis: number;
}

/** What a workload or VM asks of a node. */
export interface Demand {
  readonly memoryBytes: number;
  readonly cpuMillis: number;
  readonly nodeSelector: Readonly<Record<string, string>>;
}

export type Placement =
  | { readonly kind: "placed"; readonly node: string }
  | { readonly kind: "unschedulable"; readonly message: string };

/**
 * Chooses a node for a workload: ready, approved, schedulable, matching `nodeSelector`, with
 * room for its memory, cpu and workload count. Among those, the least loaded (by workload
 * count, then name) so that placement is deterministic.
 */
export function schedule(
  demand: Demand,
  nodes: readonly Node[],
  placed: readonly Placed[],
  nowMs: number,
): Placement {
  const reasons: string[] = [];
  let best: { node: Node; count: number } | undefined;
  for (const node of [...nodes].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    const name = node.metadata.name;
    if (!isReady(node, nowMs)) {
      reasons.push(`${name}: not ready`);
      continue;
    }
    if (node.status.approval !== "Approved") {
      reasons.push(`${name}: not approved`);
      continue;
    }
    if (!node.status.schedulable) {
      reasons.push(`${name}: cordoned`);
      continue;
    }
    const labels = node.metadata.labels;
    const mismatch = Object.entries(demand.nodeSelector).find(([k, v]) => labels[k] !== v);
    if (mismatch) {
      reasons.push(`${name}: label ${mismatch[0]}=${mismatch[1]} not matched`);
      continue;
    }
    const mine = placed.filter((p) => p.node === name);
    const alloc = node.status.allocatable;
    const memory = mine.reduce((s, p) => s + p.memoryBytes, 0) + demand.memoryBytes;
    const cpu = mine.reduce((s, p) => s + p.cpuMillis, 0) + demand.cpuMillis;
    if (mine.length + 1 > alloc.workloads) {
      reasons.push(`${name}: workload limit ${alloc.workloads} reached`);
      continue;
    }
    if (memory > alloc.memoryBytes) {
      reasons.push(`${name}: not enough memory`);
      continue;
    }
    if (cpu > alloc.cpuMillis) {
      reasons.push(`${name}: not enough cpu`);
      continue;
    }
    if (best === undefined || mine.length < best.count) best = { node, count: mine.length };
  }
  if (best) return { kind: "placed", node: best.node.metadata.name };
  return {
    kind: "unschedulable",
    message:
      nodes.length === 0
        ? "no nodes registered"
        : `0/${nodes.length} nodes available: ${reasons.join("; ")}`,
  };
}
