import type { ObjectMeta } from "./meta.js";

export type NodeApproval = "Pending" | "Approved" | "Rejected";

export interface ResourceList {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly workloads: number;
}

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: "NoSchedule" | "NoExecute";
}

export interface NodeStatus {
  readonly ready: boolean;
  readonly approval: NodeApproval;
  readonly schedulable: boolean;
  readonly capacity: ResourceList;
  readonly allocatable: ResourceList;
  readonly usage: ResourceList;
  /** RFC 3339, empty before the first heartbeat. */
  readonly lastHeartbeat: string;
  readonly hypervisor: string;
  readonly realizer: "nixos" | "direct";
  readonly version: string;
  readonly taints: readonly Taint[];
  /** host:port where the agent serves the controller. */
  readonly address: string;
}

export interface Node {
  readonly metadata: ObjectMeta;
  readonly status: NodeStatus;
}

/** A node not heard from for this long is not ready. */
export const NODE_READY_TIMEOUT_MS = 40_000;

/** Readiness as of `nowMs`, from the last heartbeat. */
export function isReady(node: Node, nowMs: number): boolean {
  const last = Date.parse(node.status.lastHeartbeat);
  return Number.isFinite(last) && nowMs - last <= NODE_READY_TIMEOUT_MS;
}
