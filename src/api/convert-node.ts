import { create } from "@bufbuild/protobuf";
import {
  NodeApproval as PbApproval,
  NodeSchema,
  type Node as PbNode,
  type ResourceList as PbResourceList,
} from "../gen/kcore/v1/node_pb.js";
import type { Node, NodeApproval, ResourceList } from "../domain/node.js";
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
    },
  });
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
