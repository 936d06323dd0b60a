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
  /** The last NixOS rebuild (nixos realizer only). */
  readonly lastRebuild?: RebuildOutcome;
}

export type RebuildState = "Applying" | "Succeeded" | "Failed";

/** What the nixos realizer did with the node's rendered module. */
export interface RebuildOutcome {
  readonly state: RebuildState;
  /** Successful applies on the node so far. */
  readonly generation: number;
  /** The NixOS system profile generation after the switch; 0 when unknown. */
  readonly systemGeneration: number;
  readonly configSha256: string;
  readonly phase: "test" | "switch";
  readonly message: string;
  readonly outputTail: string;
  readonly startedAt: string;
  /** Empty while applying. */
  readonly finishedAt: string;
}

/** Bounds on a reported rebuild outcome. */
export const REBUILD_LIMITS = { maxMessage: 1024, maxOutputTail: 8192 } as const;

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
