import { create } from "@bufbuild/protobuf";
import {
  NodeApproval as PbApproval,
  NodeSchema,
  type Node as PbNode,
  type ResourceList as PbResourceList,
} from "../gen/kcore/v1/node_pb.js";
import { InvalidFieldError, showValue } from "../domain/errors.js";
import {
  REBUILD_LIMITS,
  type Node,
  type NodeApproval,
  type RebuildOutcome,
  type ResourceList,
} from "../domain/node.js";
import type { RebuildOutcome as PbRebuildOutcome } from "../gen/kcore/v1/node_pb.js";
import { metaToProto } from "./convert-meta.js";

const APPROVAL_TO_PB = {
  Pending: PbApproval.PENDING,
  Approved: PbApproval.APPROVED,
  Rejected: PbApproval.REJECTED,
} as const satisfies Record<NodeApproval, PbApproval>;

export function resourcesToPb(r: ResourceList): {
  cpuMillis: bigint;
  memoryBytes: bigint;
  workloads: bigint;
} {
  return {
    cpuMillis: BigInt(r.cpuMillis),
    memoryBytes: BigInt(r.memoryBytes),
    workloads: BigInt(r.workloads),
  };
}

export function resourcesFromPb(r: PbResourceList | undefined): ResourceList {
  const n = (v: bigint | undefined): number =>
    Math.max(0, Math.min(Number(v ?? 0n), Number.MAX_SAFE_INTEGER));
  return { cpuMillis: n(r?.cpuMillis), memoryBytes: n(r?.memoryBytes), workloads: n(r?.workloads) };
}

/** `ready` is computed at read time from the heartbeat age. */
export function nodeToPb(n: Node, ready: boolean): PbNode {
  const s = n.status;
  return create(NodeSchema, {
    metadata: metaToProto(n.metadata),
    status: {
      ready,
      approval: APPROVAL_TO_PB[s.approval],
      schedulable: s.schedulable,
      capacity: resourcesToPb(s.capacity),
      allocatable: resourcesToPb(s.allocatable),
      usage: resourcesToPb(s.usage),
      lastHeartbeat: s.lastHeartbeat,
      hypervisor: s.hypervisor,
      realizer: s.realizer,
      version: s.version,
      taints: s.taints.map((t) => ({ ...t })),
      address: s.address,
      ...(s.lastRebuild ? { lastRebuild: rebuildToPb(s.lastRebuild) } : {}),
    },
  });
}

export function rebuildToPb(r: RebuildOutcome): {
  state: string;
  generation: bigint;
  systemGeneration: bigint;
  configSha256: string;
  phase: string;
  message: string;
  outputTail: string;
  startedAt: string;
  finishedAt: string;
} {
  return {
    ...r,
    generation: BigInt(r.generation),
    systemGeneration: BigInt(r.systemGeneration),
  };
}

/** Parses a rebuild outcome a node reports; every field is bounded. */
export function rebuildFromPb(field: string, r: PbRebuildOutcome | undefined): RebuildOutcome {
  if (!r) throw new InvalidFieldError(field, "is required");
  const text = (f: string, v: string, max: number): string => {
    if (Buffer.byteLength(v) > max)
      throw new InvalidFieldError(`${field}.${f}`, `longer than ${max} bytes`);
    return v;
  };
  const count = (f: string, v: bigint): number => {
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new InvalidFieldError(`${field}.${f}`, `out of range: ${v}`);
    return Number(v);
  };
  const state = r.state;
  if (state !== "Applying" && state !== "Succeeded" && state !== "Failed")
    throw new InvalidFieldError(
      `${field}.state`,
      `unknown state ${showValue(state)}: expected Applying, Succeeded or Failed`,
    );
  const phase = r.phase;
  if (phase !== "test" && phase !== "switch")
    throw new InvalidFieldError(
      `${field}.phase`,
      `unknown phase ${showValue(phase)}: expected test or switch`,
    );
  return {
    state,
    generation: count("generation", r.generation),
    systemGeneration: count("systemGeneration", r.systemGeneration),
    configSha256: text("configSha256", r.configSha256, 64),
    phase,
    message: text("message", r.message, REBUILD_LIMITS.maxMessage),
    outputTail: text("outputTail", r.outputTail, REBUILD_LIMITS.maxOutputTail),
    startedAt: text("startedAt", r.startedAt, 64),
    finishedAt: text("finishedAt", r.finishedAt, 64),
  };
}

export function approvalFromPb(a: PbApproval): NodeApproval {
  switch (a) {
    case PbApproval.PENDING:
      return "Pending";
    case PbApproval.APPROVED:
      return "Approved";
    case PbApproval.REJECTED:
      return "Rejected";
    case PbApproval.UNSPECIFIED:
      return "Pending";
    default:
      return "Pending";
  }
}
